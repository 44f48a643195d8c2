"""Errors as `application/problem+json` (RFC 9457): `{type, title, status, detail, errors}`.

Handlers return `problem(...)` for user mistakes; `install(app)` turns Sanic's own
exceptions (404, 405, 413 from the body limit, …) and unexpected errors into the same
shape, so no response ever carries a stack trace.

A database that cannot be reached (pymongo's `ConnectionFailure` family: server
selection timed out, connection reset, network timeout, primary stepping down, or
any pymongo error flagged as a timeout) is answered `503` with `Retry-After` on every
route, never 500: the request did not happen, or not entirely, and the client should
send it again. `POST /v1/events` relies on it for "never 202 for an unstored event".
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from bson.errors import InvalidDocument
from pymongo.errors import ConnectionFailure, PyMongoError
from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger("tocsin.service")

CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 5


def problem(status: int, detail: str | None = None, *, errors: list | None = None,
            title: str | None = None, headers: dict[str, str] | None = None) -> HTTPResponse:
    """A problem response; `type` is `about:blank` (the status says it all)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if errors is not None:
        body["errors"] = errors
    return HTTPResponse(json.dumps(body), status=status, headers=headers, content_type=CONTENT_TYPE)


class Problem(Exception):
    """Raised from deep inside a handler to answer with a problem (e.g. 404 alert)."""

    def __init__(self, status: int, detail: str | None = None, errors: list | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


def invalid(detail: str, path: str, message: str) -> Problem:
    """A 422 about one value, shaped as every 422 is (api.md): `errors[]` of
    `{index, path, message}`. `path` is a JSON Pointer into the body (`/files`) or, for
    a query parameter, its name (`cursor`, `limit`)."""
    return Problem(422, detail, errors=[{"index": 0, "path": path, "message": message}])


def install(app: Sanic) -> None:
    """Route every exception through `problem()`."""

    @app.exception(Problem)
    async def _problem(request: Request, exc: Problem) -> HTTPResponse:
        return problem(exc.status, exc.detail, errors=exc.errors)

    @app.exception(SanicException)
    async def _sanic(request: Request, exc: SanicException) -> HTTPResponse:
        status = int(getattr(exc, "status_code", 500) or 500)
        detail = str(exc) if status < 500 else None
        headers = dict(getattr(exc, "headers", {}) or {})
        return problem(status, detail, headers=headers)

    @app.exception(InvalidDocument, UnicodeEncodeError)
    async def _unstorable(request: Request, exc: Exception) -> HTTPResponse:
        # A last line behind the routes' own validation: input MongoDB cannot hold (NUL in
        # a field name, unpaired surrogates) is the client's mistake, not a server error.
        log.warning("unstorable input on %s %s: %s", request.method, request.path, type(exc).__name__)
        return problem(422, "the request holds text that cannot be stored "
                            "(a NUL character in a field name or an unpaired surrogate)")

    @app.exception(PyMongoError)
    async def _database(request: Request, exc: PyMongoError) -> HTTPResponse:
        if not database_unreachable(exc):
            return _internal_error(request)
        log.warning("database unreachable on %s %s: %s", request.method, request.path, type(exc).__name__)
        return problem(503, "the database is unreachable or not answering in time; retry later",
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception(Exception)
    async def _unexpected(request: Request, exc: Exception) -> HTTPResponse:
        return _internal_error(request)


def database_unreachable(exc: BaseException) -> bool:
    """True for pymongo errors that mean "no answer from the database", not a refusal."""
    return isinstance(exc, ConnectionFailure) or (isinstance(exc, PyMongoError) and exc.timeout)


def _internal_error(request: Request) -> HTTPResponse:
    """500 for a bug; the traceback goes to the log (call from within an exception handler)."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "internal error; see the service log")
