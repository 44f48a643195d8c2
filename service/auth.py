"""API keys with `ingest` / `admin` scopes (api.md § Auth).

Without keys the service is loopback-only (enforced at bind time, `Config.bind_error`)
and every request passes. With keys, every request but `/healthz` needs
`Authorization: Bearer <key>` (but the console's page and static files, which hold no
data: `service.console.routes.is_open`): 401 without a valid key, 403 outside its
scope. Keys are compared in constant time and never logged.

The scheme name is matched case-insensitively (`bearer`, `BEARER`), as RFC 9110 § 11.1
says of every authentication scheme, and may be followed by more than one space; the
key itself is compared exactly.
"""

from __future__ import annotations

import hmac

from sanic.request import Request
from sanic.response import HTTPResponse

from service.config import ApiKey
from service.console import routes as console_routes
from service.problems import problem

OPEN_PATHS = frozenset({"/healthz"})
INGEST_ROUTES = frozenset({("POST", "/v1/events")})


def bearer_token(header: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer …` header, else None."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip(" ") or None


def scope_of(header: str | None, keys: tuple[ApiKey, ...]) -> str | None:
    """The scope of the bearer key in `header`, or None; every key is compared."""
    token = bearer_token(header)
    if token is None:
        return None
    presented = token.encode()
    found = None
    for k in keys:  # no early exit: the time taken does not depend on which key matched
        if hmac.compare_digest(presented, k.key.encode()):
            found = k.scope
    return found


def check(request: Request, keys: tuple[ApiKey, ...]) -> HTTPResponse | None:
    """None when the request may proceed, else the 401/403 problem."""
    if not keys or request.path in OPEN_PATHS or console_routes.is_open(request.path):
        return None
    scope = scope_of(request.headers.get("authorization"), keys)
    if scope is None:
        return problem(401, "a valid API key is required: Authorization: Bearer <key>",
                       headers={"WWW-Authenticate": 'Bearer realm="tocsin"'})
    if scope == "admin" or (request.method, request.path.rstrip("/")) in INGEST_ROUTES:
        return None
    return problem(403, "this key's scope (ingest) allows only POST /v1/events")
