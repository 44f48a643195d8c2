"""`POST /v1/backtest`: rules replayed over the stored events of a time range, dry.

    {"monitor": "Sync failed", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
    {"files": {"t.rules": "monitor …"}, "from": …, "to": …, "limit": 100}

The stages: the body's shape (validated by `BacktestBody`, the model the OpenAPI
document shows) → the rule set (one monitor of the active set with the active channels
and groups, or the given files loaded as a set, as `POST /v1/test`) →
the bound (`count_documents` over the range, 422 naming `TOCSIN_BACKTEST_MAX_EVENTS`
beyond it) → the events read on the loop in chunks, oldest first (`time`, then `seq`;
fillers have no `time` and are never read, the service's own `source: "tocsin"` events
are left out) → the replay in a worker thread
(engine/replay.py `run`, the code `tocsin test` and `POST /v1/test` use, bounded by the
same `ReplayLimits`: `TOCSIN_TEST_MAX_SPAN`, `TOCSIN_TEST_MAX_ALERT_EVENTS`) → rows.

Nothing is stored and nothing is sent: the replay has its own `Engine`; the database is
only read. The clock starts at the first event of the range (as `tocsin test` does) and
is ticked through `to`, so the rows equal `POST /v1/test` given the same events and
`until = to`. Each row is that endpoint's, plus `alert_id` (a fired and its resolved
share it: the timeline's bar) and the alert event's `value` and `threshold`: what "the
series values at each transition" are here (the engine keeps no other series).

The answer holds at most `limit` rows (default 1,000, at most 10,000: `BacktestBody`),
earliest first; `total` counts them all and `truncated` says some were left out. A later page
cannot be asked for with a cursor, since it would need the replay again: narrow the
range instead (the replay limits already bound `total`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from pymongo import ASCENDING
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

import dsl
from dsl.ruleset import RuleSet
from engine.cli import fault_rows, limit_message, result_rows, shown_alert_events
from engine.model import AlertEvent
from engine.replay import ReplayLimits, ReplayTooLarge, run
from engine.times import rfc3339
from service import json_out
from service.json_body import media_type, read_json
from service.api_doc import JSON, documented
from service.api_models import BacktestBody, BacktestResult, validation_problem
from service.db import Database
from service.problems import Problem
from service.rules_store import errors_of

bp = Blueprint("backtest", url_prefix="/v1")

READ_CHUNK = 1_000  # events per round trip while reading the range
MAX_EVENTS_SETTING = "TOCSIN_BACKTEST_MAX_EVENTS"
# The events the service stores itself (`alert.*`, `monitor.error`: service/outbox.py,
# monitor_errors.py) are the live rules' output, not input: replayed, they would show the
# tested rules alerts those rules never made. A backtest reads the others only.
EMITTED_SOURCE = "tocsin"


def _error(path: str, message: str) -> dict[str, Any]:
    return {"index": 0, "path": path, "message": message}


def parse_request(request: Request) -> BacktestBody:
    """The body as its API model, or a 415 / 400 / 422 problem."""
    if media_type(request) != "application/json":
        raise Problem(415, "send application/json")
    try:
        return BacktestBody.model_validate(read_json(request))
    except ValidationError as exc:
        raise validation_problem(exc, "invalid backtest request") from None


async def _monitor_ruleset(request: Request, name: str) -> RuleSet:
    """The active set narrowed to one monitor (its channels, groups and schedules kept)."""
    store = request.app.ctx.rules
    await store.refresh()
    ruleset: RuleSet = store.active.ruleset
    found = ruleset.monitor(name)
    if found is None:
        raise Problem(422, f"no monitor {name!r} in the active rule set",
                      errors=[_error("/monitor", "not a monitor of the active rule set")])
    return dataclasses.replace(ruleset, monitors=(found,))


async def read_events(db: Database, start: datetime, end: datetime, most: int) -> list[dict]:
    """The stored events with `time` in [start, end], oldest first; 422 beyond `most`.

    Counted first, so a range too large is refused before anything is read; the read
    stops at `most` too, in case events arrived between the count and the read."""
    query = {"time": {"$gte": start, "$lte": end}, "event": {"$exists": True},
             "event.source": {"$ne": EMITTED_SOURCE}}
    count = await db.events.count_documents(query)
    if count > most:
        raise _too_many(count, most)
    cursor = db.events.find(query, {"event": 1}).sort([("time", ASCENDING), ("seq", ASCENDING)])
    events: list[dict] = []
    async for doc in cursor.batch_size(READ_CHUNK):
        if len(events) >= most:
            raise _too_many(len(events) + 1, most)
        events.append(doc["event"])
    return events


def _too_many(count: int, most: int) -> Problem:
    return Problem(422, f"the range holds {count} stored events, more than the {most} a backtest reads "
                        f"({MAX_EVENTS_SETTING}); narrow `from` and `to`",
                   errors=[_error("/from", f"more than {most} events between `from` and `to`")])


def alert_event_rows(alert_events: list[AlertEvent]) -> list[dict[str, Any]]:
    """`POST /v1/test`'s rows (sorted, muted ones left out) with `alert_id`, `value`, `threshold`."""
    rows = result_rows(alert_events)
    for row, ae in zip(rows, shown_alert_events(alert_events), strict=True):
        row.update(alert_id=ae.alert_id, value=ae.value, threshold=ae.threshold)
    return rows


def replay_answer(ruleset: RuleSet | None, diagnostics: list, events: list[dict], req: BacktestBody,
                  limits: ReplayLimits) -> dict[str, Any]:
    """The answer's document; runs in a worker thread (the engine's part)."""
    answer: dict[str, Any] = {"ok": False, "from": rfc3339(req.from_), "to": rfc3339(req.to),
                              "events": len(events), "alert_events": [], "total": 0, "truncated": False,
                              "diagnostics": [d.to_dict() for d in diagnostics], "monitor_errors": []}
    if ruleset is None or errors_of(diagnostics):
        return answer
    try:
        result = run(ruleset, events, until=req.to, limits=limits)
    except ReplayTooLarge as exc:
        raise Problem(422, limit_message(exc, "`to`"), errors=[_error("/to", str(exc))]) from None
    rows = alert_event_rows(result.alert_events)
    answer.update(ok=True, alert_events=rows[:req.limit], total=len(rows), truncated=len(rows) > req.limit,
                  monitor_errors=fault_rows(result.faults))
    return answer


def _load_files(files: dict[str, str]) -> tuple[RuleSet | None, list]:
    return dsl.load(files)


@bp.post("/backtest")
@documented("Replay rules over the stored events of a time range, dry", ok={200: BacktestResult},
            body={JSON: BacktestBody}, problems=(400, 415, 422))
async def backtest(request: Request) -> HTTPResponse:
    req = parse_request(request)
    config = request.app.ctx.config
    if req.monitor is not None:
        ruleset, diagnostics = await _monitor_ruleset(request, req.monitor), []
    else:
        ruleset, diagnostics = await asyncio.to_thread(_load_files, req.files or {})
    events: list[dict] = []
    if ruleset is not None and not errors_of(diagnostics):
        events = await read_events(request.app.ctx.db, req.from_, req.to, config.backtest_max_events)
    answer = await asyncio.to_thread(replay_answer, ruleset, diagnostics, events, req, config.test_limits)
    body = await asyncio.to_thread(json_out.dumps, answer)
    return HTTPResponse(body, content_type="application/json")
