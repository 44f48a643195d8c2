"""Cursor pagination shared by the list endpoints: `{"items": [...], "next_cursor": str | null}`.

Cursors are opaque (URL-safe base64 of JSON, read by the service's one JSON parser);
one that is not base64, not JSON (nested too deeply included) or not of the shape this
list makes is a 422 whose `errors[]` names the `cursor` query parameter, as every
other invalid query parameter is named.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from sanic.request import Request

from service.api_doc import Param
from service.json_body import loads
from service.problems import Problem, invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# The query parameters of every list, as the OpenAPI document states them.
PAGE = (Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        Param("cursor", description="the previous page's next_cursor, unchanged"))


def encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def invalid_cursor() -> Problem:
    """The 422 for a cursor this list did not hand out."""
    return invalid("invalid cursor: pass the previous page's next_cursor unchanged",
                   "cursor", "not a cursor of this list")


def decode(cursor: str) -> Any:
    """The value inside a cursor; `invalid_cursor()` when it is not base64 of JSON."""
    try:
        # NotJson and binascii.Error are ValueErrors; so is non-ASCII text.
        return loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise invalid_cursor() from exc


def cursor_value(request: Request, valid: Callable[[Any], bool]) -> Any | None:
    """The decoded `cursor` query parameter (None without one); a value `valid` refuses
    is `invalid_cursor()`."""
    cursor = request.args.get("cursor")
    if not cursor:
        return None
    value = decode(cursor)
    if not valid(value):
        raise invalid_cursor()
    return value


def _is_int(value: Any) -> bool:
    """An integer BSON can hold (a larger one would fail in the driver, not here)."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def limit_of(request: Request) -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit must be an integer from 1 to {MAX_LIMIT}", "limit", "out of range")
    return limit


def page_of_list(request: Request, items: list[Any]) -> dict[str, Any]:
    """Offset paging over an in-memory list (small, stable lists such as monitors)."""
    limit = limit_of(request)
    start = cursor_value(request, lambda v: _is_int(v) and v >= 0) or 0
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    return {"items": chunk, "next_cursor": encode(start + limit) if more else None}


async def page_after(request: Request, collection: AsyncCollection, query: dict[str, Any], field: str,
                     kind: type, limit: int) -> tuple[list[dict], str | None]:
    """Keyset paging in ascending `field` order: the page and the cursor of the next one.

    The cursor holds the last `field` value seen; one of another `kind` is a 422."""
    last = cursor_value(request, lambda v: _is_int(v) if kind is int else isinstance(v, kind))
    if last is not None:
        query = {**query, field: {"$gt": last}}
    docs = [d async for d in collection.find(query).sort(field, 1).limit(limit + 1)]
    more = len(docs) > limit
    docs = docs[:limit]
    return docs, (encode(docs[-1][field]) if more else None)
