"""`POST /v1/events`: validate, store, answer 202. Nothing else happens on this path."""

from __future__ import annotations

from datetime import datetime, timezone

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from service.api_doc import Media, documented
from service.api_models import Accepted, EventBody
from service.event_store import EventWriter
from service.events_model import TooLarge, cloudevent_errors, from_cloudevent, validate_batch
from service.json_body import media_type, parse_json
from service.problems import problem

bp = Blueprint("events", url_prefix="/v1")

JSON = "application/json"
CE = "application/cloudevents+json"
CE_BATCH = "application/cloudevents-batch+json"


def _items(body: object, kind: str) -> tuple[list, bool, list[dict]]:
    """(items to validate, single?, shape errors) for each accepted media type."""
    if kind == JSON:
        if isinstance(body, list):
            return body, False, []
        return [body], True, []
    if kind == CE:
        return [body], True, []
    if not isinstance(body, list):
        return [], False, [{"index": 0, "path": "", "message": "a CloudEvents batch is a JSON array"}]
    return body, False, []


def writer_of(request: Request) -> EventWriter:
    """The app's group-commit writer, made on first use (it belongs to the running loop)."""
    ctx = request.app.ctx
    writer = ctx.event_writer
    if writer is None or writer.db is not ctx.db:
        writer = ctx.event_writer = EventWriter(ctx.db)
    return writer


@bp.post("/events")
@documented("Store one event or a batch", ok={202: Accepted}, problems=(400, 415, 422), body={
    JSON: EventBody,
    CE: Media(CE, {"type": "object", "description": "one CloudEvent (structured mode, JSON)"}),
    CE_BATCH: Media(CE_BATCH, {"type": "array", "items": {"type": "object"}, "description": "CloudEvents"})})
async def post_events(request: Request) -> HTTPResponse:
    """Store one event or a batch (plain envelopes or CloudEvents); all or nothing."""
    metrics = request.app.ctx.metrics
    kind = media_type(request)
    if kind not in (JSON, CE, CE_BATCH):
        metrics.events_rejected.inc()
        return problem(415, f"send {JSON}, {CE} or {CE_BATCH}")
    # NaN, Infinity and unpaired surrogates are answered 422 with their path by validation.
    body, bad = parse_json(request, values_checked=True)
    if bad:
        metrics.events_rejected.inc()
        return bad
    items, single, errors = _items(body, kind)
    if kind in (CE, CE_BATCH):
        for i, ce in enumerate(items):
            errors.extend(cloudevent_errors(ce, i, "" if single else f"/{i}"))
        items = [from_cloudevent(ce) for ce in items]
    now = datetime.now(timezone.utc)
    try:
        events, more = validate_batch(items, now=now, single=single, body_bytes=len(request.body))
    except TooLarge as exc:
        metrics.events_rejected.inc(max(1, len(items)))
        return problem(413, str(exc))
    errors.extend(more)
    if errors:
        metrics.events_rejected.inc(max(1, len(items)))
        return problem(422, "invalid events; nothing was stored", errors=errors)
    ids, duplicates = await writer_of(request).store(events, now=now)
    metrics.events_accepted.inc(len(ids) - duplicates)
    metrics.events_duplicate.inc(duplicates)
    request.app.ctx.process.notify_events()
    return json_response({"accepted": len(ids) - duplicates, "duplicates": duplicates, "ids": ids}, status=202)
