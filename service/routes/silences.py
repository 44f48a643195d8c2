"""Silences: suppress notifications (not alerts) whose monitor/key/labels match."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, empty
from sanic.response import json as json_response

from engine.times import parse_rfc3339, rfc3339
from service.config import parse_duration
from service.api_doc import JSON, Param, documented
from service.api_models import DURATION, Silence, SilencePage, validation_problem
from service.problems import Problem
from service.json_body import media_type, parse_json
from service.routes.paging import PAGE, limit_of, page_after

bp = Blueprint("silences", url_prefix="/v1/silences")

MAX_SILENCE = timedelta(days=366)


class SilenceIn(BaseModel):
    """Exactly one of `duration` and `ends_at`; the silence ends within a year."""

    model_config = ConfigDict(extra="forbid", strict=True)
    matchers: dict[str, str] = Field(json_schema_extra={"minProperties": 1, "description": "monitor, flow, … = value"})
    ends_at: AwareDatetime | None = None
    duration: str | None = Field(default=None, json_schema_extra={"pattern": DURATION["pattern"], "examples": ["2h", "1h30m"]})
    comment: str | None = None
    by: str | None = None

    @field_validator("ends_at", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        if isinstance(v, str):
            return parse_rfc3339(v)
        return v

    @field_validator("matchers")
    @classmethod
    def _not_empty(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("at least one matcher (e.g. monitor, flow)")
        if any("\x00" in k for k in v):
            raise ValueError("a matcher name cannot hold a NUL character")
        return v

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and parse_duration(v) <= timedelta(0):
            raise ValueError("must be positive")
        return v

    @model_validator(mode="after")
    def _one_end(self) -> SilenceIn:
        if (self.ends_at is None) == (self.duration is None):
            raise ValueError("give exactly one of ends_at or duration")
        return self


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "matchers": doc["matchers"], "starts_at": rfc3339(doc["starts_at"]),
            "ends_at": rfc3339(doc["ends_at"]), "comment": doc.get("comment"), "by": doc.get("by"),
            "active": doc["ends_at"] > datetime.now(timezone.utc)}


@bp.post("")
@documented("Create a silence", ok={201: Silence}, body={JSON: SilenceIn}, problems=(400, 415, 422))
async def create(request: Request) -> HTTPResponse:
    if media_type(request) != "application/json":
        raise Problem(415, "send application/json")
    body, bad = parse_json(request)
    if bad:
        return bad
    try:
        s = SilenceIn.model_validate(body)
    except ValidationError as exc:
        raise validation_problem(exc, "invalid silence") from None
    except ValueError as exc:
        raise Problem(422, "invalid silence", errors=[]) from exc
    now = datetime.now(timezone.utc)
    ends_at = s.ends_at if s.ends_at else now + parse_duration(s.duration or "0s")
    if ends_at <= now or ends_at - now > MAX_SILENCE:  # aware comparisons: no UTC conversion to overflow
        raise Problem(422, "a silence ends in the future, within a year",
                      errors=[{"index": 0, "path": "/ends_at" if s.ends_at else "/duration", "message": "out of range"}])
    ends_at = ends_at.astimezone(timezone.utc)
    doc = {"_id": f"sil_{int(now.timestamp() * 1000):013d}_{uuid.uuid4().hex[:8]}", "matchers": s.matchers, "starts_at": now, "ends_at": ends_at,
           "comment": s.comment, "by": s.by, "created_at": now}
    await request.app.ctx.db.silences.insert_one(doc)
    request.app.ctx.process.silences_changed = True
    request.app.ctx.process.wake.set()
    return json_response(public(doc), status=201)


@bp.get("")
@documented("Silences", ok={200: SilencePage}, problems=(422,),
            query=(Param("all", {"type": "boolean"}, "also the silences that ended"), *PAGE))
async def list_silences(request: Request) -> HTTPResponse:
    """Silences still in force, oldest first (`?all=true` includes expired ones)."""
    limit = limit_of(request)
    query: dict[str, Any] = {}
    if request.args.get("all") != "true":
        query["ends_at"] = {"$gt": datetime.now(timezone.utc)}
    docs, next_cursor = await page_after(request, request.app.ctx.db.silences, query, "_id", str, limit)
    return json_response({"items": [public(d) for d in docs], "next_cursor": next_cursor})


@bp.delete("/<silence_id:str>")
@documented("Delete a silence", ok={204: None}, problems=(404,))
async def delete(request: Request, silence_id: str) -> HTTPResponse:
    result = await request.app.ctx.db.silences.delete_one({"_id": silence_id})
    if result.deleted_count == 0:
        raise Problem(404, f"no silence {silence_id!r}")
    request.app.ctx.process.silences_changed = True
    request.app.ctx.process.wake.set()
    return empty(status=204)
