"""Alerts: list, detail, context, acknowledge, clear (api.md § Monitors and alerts).

Alert documents are written by the evaluator; acknowledge and clear are commands the
evaluator applies (it owns alert state), so every replica's API can accept them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from dsl.catalog import SEVERITIES
from service.api_doc import JSON, Param, documented
from service.api_models import DURATION, Alert, AlertCommandQueued, AlertContext, AlertDetail, AlertPage, ByComment, validation_problem
from engine.times import parse_time, rfc3339
from service.config import parse_duration
from service.db import Database
from service.event_store import LOOKUP_CHUNK
from service.problems import Problem
from service.json_body import media_type, read_json
from service.routes.paging import PAGE, decode, encode, invalid_cursor, limit_of, page_after

bp = Blueprint("alerts", url_prefix="/v1/alerts")

STATUSES = ("firing", "pending", "resolved", "inactive")
FILTERS = ("status", "monitor", "severity", "instance", "flow", "customer", "acknowledged")
QUERY_PARAMETERS = (*FILTERS, "limit", "cursor")
# Where a scope filter looks, as an `on instance|customer|flow "X"` clause matches: the
# alert's key (what a `by` alert is about, and all an absence alert has) or the event
# that last triggered it (its id or name). So `instance=Acme` finds an alert keyed on the
# instance's id whose events name it Acme. Not indexed: the filter reads every alert
# the other conditions leave, in `sort_at` order, until a page is full.
SCOPE_PATHS = {
    "instance": ("key.instance", "last_event.instance.id", "last_event.instance.name"),
    "customer": ("key.customer", "last_event.customer.external_id", "last_event.customer.name"),
    "flow": ("key.flow", "last_event.flow"),
}
HIDDEN = ("_id", "sort_at", "updated_at")
COMMAND_WAIT_SECONDS = 5.0
# What a delivery shows of its ledger entry: state, attempts, next attempt, the claim;
# not the request it carries (the worker's copy) nor the reconciler's `due_at`.
LEDGER_FIELDS = {"request": 0, "due_at": 0}
# Acknowledge and clear: an optional JSON body; the alert once the evaluator applied the
# command, or 202 with the command queued after `COMMAND_WAIT_SECONDS`.
COMMAND: dict[str, Any] = {"ok": {200: Alert, 202: AlertCommandQueued}, "body": {JSON: ByComment},
                           "body_required": False, "problems": (400, 404, 409, 415, 422)}


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in HIDDEN}


def _refuse(detail: str, parameter: str, message: str) -> Problem:
    return Problem(422, detail, errors=[{"index": 0, "path": parameter, "message": message}])


def _filters(request: Request) -> list[dict[str, Any]]:
    """The list's conditions from its query (api.md § Monitors and alerts).

    A parameter the list does not know, or one given twice, is a 422 naming it: a
    misspelt filter must not answer every alert as if it matched. A blank value is no
    filter (an empty form field)."""
    args = request.get_args(keep_blank_values=True)
    unknown = [name for name in args if name not in QUERY_PARAMETERS]
    if unknown:
        raise Problem(422, f"unknown query parameter(s): {', '.join(unknown)}; known: {', '.join(QUERY_PARAMETERS)}",
                      errors=[{"index": 0, "path": name, "message": "unknown query parameter"} for name in unknown])
    values: dict[str, str] = {}
    for name in FILTERS:
        given = [v for v in args.getlist(name, []) if v != ""]
        if len(given) > 1:
            raise _refuse(f"{name} can be given once", name, "given more than once")
        if given:
            values[name] = given[0]
    conditions: list[dict[str, Any]] = []
    status = values.get("status")
    if status is not None:
        if status not in STATUSES:
            raise _refuse("status is firing, pending, resolved or inactive", "status", "unknown status")
        conditions.append({"status": status})
    severity = values.get("severity")
    if severity is not None:
        if severity not in SEVERITIES:
            raise _refuse(f"severity is {', '.join(SEVERITIES)}", "severity", "unknown severity")
        conditions.append({"severity": severity})
    if "monitor" in values:
        conditions.append({"monitor": values["monitor"]})
    ack = values.get("acknowledged")
    if ack is not None:
        if ack not in ("true", "false"):
            raise _refuse("acknowledged is true or false", "acknowledged", "not a boolean")
        conditions.append({"acknowledged": ack == "true"})
    for scope, paths in SCOPE_PATHS.items():
        if scope in values:
            conditions.append({"$or": [{path: values[scope]} for path in paths]})
    return conditions


@bp.get("")
@documented("Alerts, newest first", ok={200: AlertPage}, problems=(422,), query=(
    Param("status", {"type": "string", "enum": list(STATUSES)}), Param("monitor", description="the monitor's name"),
    Param("severity", {"type": "string", "enum": list(SEVERITIES)}),
    Param("instance", description="the instance's id or name, in the key or the last event"),
    Param("flow", description="the flow, in the key or the last event"),
    Param("customer", description="the customer's external id or name, in the key or the last event"),
    Param("acknowledged", {"type": "boolean"}), *PAGE))
async def list_alerts(request: Request) -> HTTPResponse:
    """Newest first (by fired time, else pending time), cursor-paged."""
    conditions, limit = _filters(request), limit_of(request)
    cursor = request.args.get("cursor")
    if cursor:
        pos = decode(cursor)
        if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(p, str) for p in pos)):
            raise invalid_cursor()
        try:
            at = parse_time(pos[0])
        except (ValueError, OverflowError) as exc:  # year 1 at +01:00 overflows in UTC
            raise invalid_cursor() from exc
        conditions.append({"$or": [{"sort_at": {"$lt": at}}, {"sort_at": at, "_id": {"$lt": pos[1]}}]})
    query = {"$and": conditions} if len(conditions) > 1 else (conditions[0] if conditions else {})
    docs = [d async for d in request.app.ctx.db.alerts.find(query).sort([("sort_at", -1), ("_id", -1)]).limit(limit + 1)]
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = encode([docs[-1]["sort_at"].isoformat(), docs[-1]["_id"]]) if more else None
    return json_response({"items": [public(d) for d in docs], "next_cursor": next_cursor})


async def _alert(request: Request, alert_id: str) -> dict[str, Any]:
    doc = await request.app.ctx.db.alerts.find_one({"_id": alert_id})
    if doc is None:
        raise Problem(404, f"no alert {alert_id!r}")
    return doc


@bp.get("/<alert_id:str>")
@documented("An alert with its alert events and deliveries", ok={200: AlertDetail}, problems=(404,))
async def get_alert(request: Request, alert_id: str) -> HTTPResponse:
    """The alert with its alert events (oldest first) and each one's deliveries."""
    db = request.app.ctx.db
    alert = public(await _alert(request, alert_id))
    events = [d async for d in db.alert_events.find({"alert_id": alert_id}).sort("at_time", 1).limit(1000)]
    deliveries: dict[str, list] = {}
    async for d in _ledger_entries(db, events):
        d["id"] = d.pop("_id")
        deliveries.setdefault(d["alert_event_id"], []).append(_jsonable(d))
    alert["alert_events"] = [
        {**{k: v for k, v in e.items() if k not in ("_id", "at_time", "created_at", "delivery_ids")},
         "deliveries": deliveries.get(e["_id"], [])}
        for e in events
    ]
    return json_response(alert)


async def _ledger_entries(db: Database, events: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """The ledger entries of these alert events, through the `_id` index (each alert event
    lists its entries; the ledger has no index on `alert_event_id`)."""
    ids = [i for e in events for i in e.get("delivery_ids") or ()]
    for start in range(0, len(ids), LOOKUP_CHUNK):
        async for d in db.deliveries.find({"_id": {"$in": ids[start:start + LOOKUP_CHUNK]}}, LEDGER_FIELDS):
            yield d


def _jsonable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: (rfc3339(v) if isinstance(v, datetime) else v) for k, v in doc.items()}


def _key_filter(key: dict[str, Any]) -> list[dict[str, Any]]:
    """Stored-event conditions for an alert key (`by instance` is id or name, …)."""
    conds = []
    for field, value in key.items():
        if field == "instance":
            paths = ["event.instance.id", "event.instance.name"]
        elif field == "customer":
            paths = ["event.customer.external_id", "event.customer.name"]
        else:
            paths = [f"event.{field}", f"event.data.{field}"]
        conds.append({"$or": [{p: value} for p in paths]})
    return conds


def _window(request: Request, name: str) -> timedelta:
    try:
        return parse_duration(request.args.get(name, "5m"))
    except ValueError as exc:
        raise Problem(422, f"{name} is a duration such as 5m",
                      errors=[{"index": 0, "path": name, "message": str(exc)}]) from exc


@bp.get("/<alert_id:str>/context")
@documented("Stored events around the alert's last trigger", ok={200: AlertContext}, problems=(404, 422),
            query=(Param("before", DURATION, "default 5m"), Param("after", DURATION, "default 5m"), *PAGE))
async def context(request: Request, alert_id: str) -> HTTPResponse:
    """Stored events of the alert's key from `before` to `after` its last trigger."""
    alert = await _alert(request, alert_id)
    before, after, limit = _window(request, "before"), _window(request, "after"), limit_of(request)
    center_text = alert.get("last_triggered_at") or alert.get("fired_at") or alert.get("pending_since")
    center = parse_time(center_text) if center_text else alert["sort_at"]
    query: dict[str, Any] = {"time": {"$gte": center - before, "$lte": center + after}}
    conds = _key_filter(alert.get("key") or {})
    if conds:
        query["$and"] = conds
    docs, next_cursor = await page_after(request, request.app.ctx.db.events, query, "seq", int, limit)
    return json_response({
        "alert": alert_id, "from": rfc3339(center - before), "to": rfc3339(center + after),
        "items": [d["event"] for d in docs], "next_cursor": next_cursor,
    })


def _by_comment(request: Request) -> ByComment:
    """The optional body of acknowledge and clear, validated by its API model."""
    if not request.body:
        return ByComment()
    if media_type(request) != "application/json":
        raise Problem(415, "send application/json {\"by\", \"comment\"}")
    body = read_json(request)
    try:
        return ByComment.model_validate(body)
    except ValidationError as exc:
        raise validation_problem(exc, "invalid request") from None


async def _command(request: Request, alert_id: str, action: str) -> HTTPResponse:
    given = _by_comment(request)
    by, comment = given.by, given.comment
    alert = await _alert(request, alert_id)
    if alert.get("status") == "resolved":
        raise Problem(409, "the alert is already resolved")
    db, now = request.app.ctx.db, datetime.now(timezone.utc)
    command_id = uuid.uuid4().hex
    await db.commands.insert_one({"_id": command_id, "alert_id": alert_id, "monitor": alert.get("monitor"),
                                  "action": action, "by": by,
                                  "comment": comment, "at": now, "applied": False})
    request.app.ctx.process.commands_changed()
    deadline = asyncio.get_running_loop().time() + COMMAND_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        cmd = await db.commands.find_one({"_id": command_id}, {"applied": 1})
        if cmd and cmd.get("applied"):
            return json_response(public(await _alert(request, alert_id)))
        await asyncio.sleep(0.05)
    return json_response({**public(alert), "command": {"id": command_id, "action": action, "status": "queued"}},
                         status=202)


@bp.post("/<alert_id:str>/acknowledge")
@documented("Acknowledge", **COMMAND)
async def acknowledge(request: Request, alert_id: str) -> HTTPResponse:
    """Stops repeats and escalations; the alert stays firing."""
    return await _command(request, alert_id, "acknowledge")


@bp.post("/<alert_id:str>/clear")
@documented("Resolve by hand", **COMMAND)
async def clear(request: Request, alert_id: str) -> HTTPResponse:
    """Resolves the alert by hand (a `resolved` notification goes out)."""
    return await _command(request, alert_id, "clear")
