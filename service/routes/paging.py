"""Cursor pagination shared by the list endpoints: `{"items": [...], "next_cursor": str | null}`.

Cursors are opaque (URL-safe base64 of JSON); a malformed one is a 422.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sanic.request import Request

from service.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(422, "invalid cursor", errors=[{"index": 0, "path": "cursor", "message": "not a cursor"}]) from exc


def limit_of(request: Request) -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(422, f"limit must be an integer from 1 to {MAX_LIMIT}",
                      errors=[{"index": 0, "path": "limit", "message": "out of range"}])
    return limit


def page_of_list(request: Request, items: list[Any]) -> dict[str, Any]:
    """Offset paging over an in-memory list (small, stable lists such as monitors)."""
    limit = limit_of(request)
    cursor = request.args.get("cursor")
    start = decode(cursor) if cursor else 0
    if not isinstance(start, int) or start < 0:
        raise Problem(422, "invalid cursor")
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    return {"items": chunk, "next_cursor": encode(start + limit) if more else None}


async def page_after(request: Request, collection: Any, query: dict[str, Any], field: str,
                     kind: type, limit: int) -> tuple[list[dict], str | None]:
    """Keyset paging in ascending `field` order: the page and the cursor of the next one.

    The cursor holds the last `field` value seen; one of another `kind` is a 422."""
    cursor = request.args.get("cursor")
    if cursor:
        last = decode(cursor)
        if not isinstance(last, kind) or isinstance(last, bool):
            raise Problem(422, "invalid cursor")
        query = {**query, field: {"$gt": last}}
    docs = [d async for d in collection.find(query).sort(field, 1).limit(limit + 1)]
    more = len(docs) > limit
    docs = docs[:limit]
    return docs, (encode(docs[-1][field]) if more else None)
