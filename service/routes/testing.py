"""`POST /v1/test`: run rules over given events in isolation (no storage, no delivery)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

import dsl
from service.event_store import parse_time
from service.events_model import EARLIEST, LATEST, MAX_BATCH, validate_event
from service.problems import Problem
from service.json_body import media_type, parse_json
from service.rules_store import errors_of

bp = Blueprint("testing", url_prefix="/v1")


def _body(request: Request) -> tuple[dict[str, str], list[Any], datetime | None]:
    if media_type(request) != "application/json":
        raise Problem(415, "send application/json")
    body, bad = parse_json(request)
    if bad:
        raise Problem(400, "the body is not JSON")
    errors = []
    if not isinstance(body, dict):
        raise Problem(422, "expected an object", errors=[{"index": 0, "path": "", "message": "not an object"}])
    files, events, until = body.get("files"), body.get("events"), body.get("until")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        errors.append({"index": 0, "path": "/files", "message": "an object of file name to rule text"})
    if not isinstance(events, list):
        errors.append({"index": 0, "path": "/events", "message": "an array of events"})
    elif len(events) > MAX_BATCH:
        raise Problem(413, f"at most {MAX_BATCH} events")
    until_time = None
    if until is not None:
        try:
            until_time = parse_time(until) if isinstance(until, str) else None
        except (ValueError, OverflowError):
            pass
        if until_time is None or not EARLIEST <= until_time < LATEST:
            errors.append({"index": 0, "path": "/until", "message": "an RFC 3339 time between 1970 and 9000"})
    extra = [k for k in body if k not in ("files", "events", "until")]
    errors += [{"index": 0, "path": f"/{k}", "message": "unknown field"} for k in extra]
    if errors:
        raise Problem(422, "invalid test request", errors=errors)
    return files, events, until_time


@bp.post("/test")
async def test_rules(request: Request) -> HTTPResponse:
    files, raw_events, until = _body(request)
    now = datetime.now(timezone.utc)
    events, errors = [], []
    for i, raw in enumerate(raw_events):
        stored, errs = validate_event(raw, i, f"/events/{i}", now, max_future=None)
        errors.extend(errs)
        if stored is not None:
            events.append(stored)
    if errors:
        raise Problem(422, "invalid events", errors=errors)
    ruleset, diagnostics = dsl.load(files)
    shown = [d.to_dict() for d in diagnostics]
    if ruleset is None or errors_of(diagnostics):
        return json_response({"ok": False, "alert_events": [], "diagnostics": shown})
    from engine import replay
    from engine.cli import result_rows

    # The same rows as `tocsin test --format json`: sorted, muted ones left out, with severity.
    out = replay(ruleset, events, until=until) if events or until else []
    return json_response({"ok": True, "diagnostics": shown, "alert_events": result_rows(out)})
