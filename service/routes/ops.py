"""Operations: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`."""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, html, raw
from sanic.response import json as json_response

from service.metrics import CONTENT_TYPE
from service.openapi import DOCS_HTML, document
from service.problems import problem

bp = Blueprint("ops")


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    """The process is up (always open, even with API keys)."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
async def readyz(request: Request) -> HTTPResponse:
    """Database and broker reachable; 503 otherwise."""
    runtime = request.app.ctx.runtime
    checks = {"database": await runtime.db.ping(), "broker": await runtime.broker_ok()}
    if all(checks.values()):
        return json_response({"status": "ready", "checks": checks})
    failed = ", ".join(k for k, v in checks.items() if not v)
    return problem(503, f"not ready: {failed} unreachable")


@bp.get("/metrics")
async def metrics(request: Request) -> HTTPResponse:
    m = request.app.ctx.metrics
    await m.refresh(request.app.ctx.db)
    return raw(m.render(), content_type=CONTENT_TYPE)


@bp.get("/openapi.json")
async def openapi(request: Request) -> HTTPResponse:
    return json_response(document(request.app.ctx.config.base_url))


@bp.get("/docs")
async def docs(request: Request) -> HTTPResponse:
    return html(DOCS_HTML)
