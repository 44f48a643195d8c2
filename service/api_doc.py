"""What a route declares for the OpenAPI document: `@documented(...)` under its `@bp.<method>`.

    @bp.post("/<alert_id:str>/acknowledge")
    @documented("Acknowledge", body={JSON: ByComment}, ok={200: Alert, 202: AlertCommandQueued},
                problems=(400, 404, 409, 415, 422))
    async def acknowledge(request, alert_id): ...

`ok` maps each success status to a pydantic model (a JSON answer), to a `Media` (another
media type) or to None (no body); `body` maps each request media type to a model or a
`Media`; `problems` are the 4xx/5xx statuses the route itself answers (401 and 403 are
added for routes behind the API keys, 413 for routes with a body). service/openapi.py
reads these from the app's routes, so a route without them is missing from nothing: the
test of the document fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

JSON = "application/json"
TEXT = "text/plain"
HTML = "text/html"

F = TypeVar("F", bound=Callable[..., Any])
Schema = dict[str, Any]  # a JSON Schema (or an OpenAPI object) as JSON
ATTRIBUTE = "__tocsin_operation__"


@dataclass(frozen=True)
class Media:
    """A body that is not one pydantic model: its media type and JSON Schema."""

    media_type: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    description: str | None = None
    required: bool = False


Shape = type[BaseModel] | Media | Schema


@dataclass(frozen=True)
class Operation:
    summary: str
    ok: dict[int, Shape | None]
    body: dict[str, Shape] = field(default_factory=dict)
    problems: tuple[int, ...] = ()
    query: tuple[Param, ...] = ()
    path: dict[str, Schema] = field(default_factory=dict)  # schemas of path parameters
    public: bool = False  # answered without an API key
    body_required: bool = True


def documented(summary: str, *, ok: dict[int, Shape | None], body: dict[str, Shape] | None = None,
               problems: tuple[int, ...] = (), query: tuple[Param, ...] = (),
               path: dict[str, Schema] | None = None, public: bool = False,
               body_required: bool = True) -> Callable[[F], F]:
    """Attach the route's `Operation` to its handler."""
    operation = Operation(summary, ok, body or {}, problems, query, path or {}, public, body_required)

    def attach(handler: F) -> F:
        setattr(handler, ATTRIBUTE, operation)
        return handler

    return attach


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    return getattr(handler, ATTRIBUTE, None)
