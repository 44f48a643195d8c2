"""Waiting on a condition with a deadline, from async tests (never on the clock alone)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(predicate: Callable[[], Awaitable[T]], timeout: float = 15.0, interval: float = 0.05) -> T:
    """The predicate's first truthy answer, asked every `interval` until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer := await predicate():
            return answer
        await asyncio.sleep(interval)
    raise AssertionError("condition not reached")
