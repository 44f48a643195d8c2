"""Operations: `/healthz`, `/readyz`, `/metrics`, `/openapi.json` (`/docs` is the console's)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, raw
from sanic.response import json as json_response

from service.api_doc import Media, documented
from service.api_models import Health, Ready
from service.metrics import CONTENT_TYPE
from service.openapi import document
from service.problems import problem

bp = Blueprint("ops")
OPENAPI_DOCUMENT = {"type": "object", "required": ["openapi", "info", "paths", "components"],
                    "properties": {"openapi": {"const": "3.1.0"}, "info": {"type": "object"},
                                   "paths": {"type": "object"}, "components": {"type": "object"}},
                    "description": "OpenAPI 3.1"}

READY_TIMEOUT_SECONDS = 1.0


class BoundedCheck:
    """A reachability check that answers within a timeout, whatever the check does.

        check = BoundedCheck(process.db.ping)
        ok = await check(timeout=1.0)       # False if it raised, said no, or took too long

    A check that times out is not cancelled but left to finish in the background,
    and calls made meanwhile wait on that same attempt instead of starting another:
    a check blocked in a thread (a Redis ping to a frozen server may have no timeout
    of its own) cannot be cancelled, and a fresh one per probe would pile up threads
    until the executor is exhausted. Once it finishes, the next call starts anew.
    """

    def __init__(self, check: Callable[[], Awaitable[bool]]) -> None:
        self.check = check
        self._attempt: asyncio.Task | None = None

    async def __call__(self, timeout: float) -> bool:
        if self._attempt is None or self._attempt.done():
            self._attempt = asyncio.ensure_future(self._run())
        with contextlib.suppress(asyncio.TimeoutError):
            return await asyncio.wait_for(asyncio.shield(self._attempt), timeout)
        return False

    async def _run(self) -> bool:
        try:
            return bool(await self.check())
        except Exception:
            return False


def _readiness_checks(request: Request) -> dict[str, BoundedCheck]:
    """The app's checks, made on first use (their attempts belong to the running loop)."""
    ctx = request.app.ctx
    checks = ctx.readiness_checks
    if checks is None:
        process = ctx.process
        checks = ctx.readiness_checks = {"database": BoundedCheck(lambda: process.db.ping()),
                                         "broker": BoundedCheck(process.broker_ok)}
    return checks


@bp.get("/healthz")
@documented("Process up", ok={200: Health}, public=True)
async def healthz(request: Request) -> HTTPResponse:
    """The process is up (always open, even with API keys)."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
@documented("Database and broker reachable", ok={200: Ready}, problems=(503,))
async def readyz(request: Request) -> HTTPResponse:
    """Database and broker reachable within 1 s (checked concurrently); 503 otherwise."""
    named = _readiness_checks(request)
    results = await asyncio.gather(*(check(READY_TIMEOUT_SECONDS) for check in named.values()))
    checks = dict(zip(named, results))
    if all(checks.values()):
        return json_response({"status": "ready", "checks": checks})
    failed = ", ".join(k for k, v in checks.items() if not v)
    return problem(503, f"not ready: {failed} unreachable")


@bp.get("/metrics")
@documented("Prometheus metrics", ok={200: Media("text/plain", {"type": "string", "description": "the Prometheus text format"})})
async def metrics(request: Request) -> HTTPResponse:
    m = request.app.ctx.metrics
    await m.refresh(request.app.ctx.db)
    return raw(m.render(), content_type=CONTENT_TYPE)


@bp.get("/openapi.json")
@documented("This document", ok={200: Media("application/json", OPENAPI_DOCUMENT)})
async def openapi(request: Request) -> HTTPResponse:
    return json_response(document(request.app, request.app.ctx.config.base_url))
