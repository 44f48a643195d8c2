"""Waiting on a condition with a deadline, from async tests (never on the clock alone)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from delivery.ledger import OPEN_STATES

T = TypeVar("T")


async def eventually(predicate: Callable[[], Awaitable[T]], timeout: float = 15.0, interval: float = 0.05) -> T:
    """The predicate's first truthy answer, asked every `interval` until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer := await predicate():
            return answer
        await asyncio.sleep(interval)
    raise AssertionError("condition not reached")


async def evaluated(*apps: Any, timeout: float = 15.0) -> None:
    """Every evaluator of `apps` (Sanic apps of service.app) has evaluated the events
    stored so far and written what they caused (`Evaluator.join`), within `timeout`."""
    async with asyncio.timeout(timeout):
        for app in apps:
            for evaluator in app.ctx.process.evaluators:
                await evaluator.join()


async def deliveries_settled(db: Any) -> bool:
    """No ledger entry of `db` (service.db.Database) is still open: each one was sent or
    given up, and nothing of it is in flight."""
    return await db.deliveries.count_documents({"state": {"$in": list(OPEN_STATES)}}) == 0
