"""`POST /v1/test`: run rules over given events in isolation (no storage, no delivery).

Everything past the body's shape runs in a thread: validating the events, loading the
rules, the replay, the rendering and encoding the answer. So a big replay or a hostile
template never holds up the event loop (`/healthz`, ingestion); the thread is bounded
instead:
- the replay by `TOCSIN_TEST_MAX_SPAN` and `TOCSIN_TEST_MAX_ALERT_EVENTS` (engine/replay.py
  `ReplayLimits`, the bounds `tocsin test` has too): 422 naming the setting beyond them;
- with `"render": true` (each alert event also lists its `notifications` as a worker
  would send them, `delivery.preview`: nothing is sent, secrets are `****`) the sandbox's
  caps bound each template and `PREVIEW_SECONDS` the whole preview, and at most
  `MAX_RENDERED_ALERT_EVENTS` alert events are rendered (422 beyond).
Monitors that failed on the way are listed in `monitor_errors` (engine/faults.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

import dsl
from delivery.preview import Preview, preview_factory
from dsl.ruleset import RuleSet
from engine.cli import fault_rows, limit_message, result_rows, shown_alert_events
from engine.replay import ReplayLimits, ReplayResult, ReplayTooLarge, run
from service import json_out
from service.api_doc import JSON, documented
from service.api_models import DryRunRequest, DryRunResult, validation_problem
from service.delivery_bridge import delivery_settings
from service.events_model import TooLarge, validate_event
from service.json_body import media_type, read_json
from service.problems import Problem
from service.rules_store import errors_of

bp = Blueprint("testing", url_prefix="/v1")

MAX_RENDERED_ALERT_EVENTS = 100
PREVIEW_SECONDS = 5.0  # over all templates of one request; each template also has its own cap


class TooManyToRender(Exception):
    """More alert events than a preview renders (answered 422)."""


def _body(request: Request) -> DryRunRequest:
    """The body as its API model: 415, 400 (not JSON), 413 (more events than a request
    holds) or 422 otherwise. The events themselves are checked later, in `_events`."""
    if media_type(request) != "application/json":
        raise Problem(415, "send application/json")
    try:
        return DryRunRequest.model_validate(read_json(request))
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            if e["type"] == "too_long" and e["loc"] == ("events",):  # as `POST /v1/events` answers a batch
                raise Problem(413, f"at most {e['ctx']['max_length']} events") from None
        raise validation_problem(exc, "invalid test request") from None


def _answer(files: dict[str, str], raw_events: list[Any], until: datetime | None,
            limits: ReplayLimits, preview: Callable[[RuleSet], Preview] | None) -> str:
    """The answer's JSON text; runs in a worker thread. Raises `Problem` for what the
    request asked beyond its bounds."""
    events = _events(raw_events, datetime.now(timezone.utc))
    ruleset, diagnostics = dsl.load(files)
    shown = [d.to_dict() for d in diagnostics]
    if ruleset is None or errors_of(diagnostics):
        return json_out.dumps({"ok": False, "alert_events": [], "diagnostics": shown, "monitor_errors": []})
    try:
        rows, errors = _run(ruleset, events, until, limits, preview)
    except ReplayTooLarge as exc:
        where = "/until" if until is not None else "/events"
        raise Problem(422, limit_message(exc, "`until`"),
                      errors=[{"index": 0, "path": where, "message": str(exc)}]) from None
    except TooManyToRender:
        raise Problem(422, f"render previews at most {MAX_RENDERED_ALERT_EVENTS} alert events; "
                           "send fewer events or an earlier `until`",
                      errors=[{"index": 0, "path": "/render", "message": "too many alert events to render"}]) from None
    return json_out.dumps({"ok": True, "diagnostics": shown, "alert_events": rows, "monitor_errors": errors})


def _events(raw_events: list[Any], now: datetime) -> list[dict]:
    """The events as ingestion validates them, any time allowed (422 / 413 otherwise)."""
    events, errors = [], []
    for i, raw in enumerate(raw_events):
        try:
            stored, errs = validate_event(raw, i, f"/events/{i}", now, max_future=None)
        except TooLarge as exc:
            raise Problem(413, str(exc)) from None
        errors.extend(errs)
        if stored is not None:
            events.append(stored)
    if errors:
        raise Problem(422, "invalid events", errors=errors)
    return events


def _run(ruleset: RuleSet, events: list[dict], until: datetime | None, limits: ReplayLimits,
         preview: Callable[[RuleSet], Preview] | None) -> tuple[list[dict], list[dict]]:
    """The rows and monitor errors of `tocsin test --format json` (with `--render` when
    `preview` is given)."""
    # The same rows as `tocsin test --format json`: sorted, muted ones left out, with severity.
    result = run(ruleset, events, until=until, limits=limits) if events or until else ReplayResult()
    errors = fault_rows(result.faults)
    if preview is None:
        return result_rows(result.alert_events), errors
    if len(shown_alert_events(result.alert_events)) > MAX_RENDERED_ALERT_EVENTS:
        raise TooManyToRender()
    return result_rows(result.alert_events, preview(ruleset)), errors


@bp.post("/test")
@documented("Dry-run rules over events", ok={200: DryRunResult}, body={JSON: DryRunRequest}, problems=(400, 415, 422))
async def test_rules(request: Request) -> HTTPResponse:
    given = _body(request)
    config = request.app.ctx.config
    preview = preview_factory(public_url=config.base_url, settings=delivery_settings(config),
                              max_seconds=PREVIEW_SECONDS) if given.render else None
    body = await asyncio.to_thread(_answer, given.files, given.events, given.until, config.test_limits, preview)
    return HTTPResponse(body, content_type="application/json")
