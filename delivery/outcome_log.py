"""One log line per delivery outcome: ids, channel and status, nothing people wrote.

    log_outcome(claim.request, outcome)    # after the ledger recorded it

At INFO (WARNING for a final failure) the line names the delivery, its alert event and
alert, the monitor, the channel, the attempt, the state and HTTP/SMTP status, the
latency and the kind of error (`HTTP 503`, `timeout`, `connection error`, the template's
place): never the destination address, the payload, event data, group members or the
error's text, which may quote any of them. With `TOCSIN_LOG_LEVEL=debug` the same line
also carries the destination and the (redacted) error and render warnings.

The fields travel as `extra`, so `TOCSIN_LOG_FORMAT=json` makes each one a JSON key.
"""

from __future__ import annotations

import logging
from typing import Any

from delivery.ledger import FAILED, PENDING, Outcome
from delivery.request import DeliveryRequest

log = logging.getLogger("tocsin.delivery.outcome")
_ERROR_KIND_CHARS = 40


def outcome_fields(request: DeliveryRequest, outcome: Outcome, *, detail: bool) -> dict[str, Any]:
    """The line's fields; `detail` adds the destination, the error and the warnings."""
    record = outcome.attempt or {}
    fields: dict[str, Any] = {
        "delivery_id": outcome.delivery_id,
        "alert_event_id": request.alert_event_id,
        "alert_id": request.document.get("id"),
        "monitor": request.monitor.get("name"),
        "kind": request.document.get("kind"),
        "channel": request.kind,
        "attempt": record.get("attempt"),
        "state": outcome.state,
        "outcome": record.get("outcome"),
        "status": record.get("status"),
        "latency_ms": record.get("latency_ms"),
        "retry_in_ms": record.get("retry_in_ms"),
        "error_kind": error_kind(record.get("error")),
        "render_warnings": len(outcome.render_warnings),
    }
    if detail:
        fields.update(target=request.target, error=record.get("error"),
                      render_warning_texts=list(outcome.render_warnings))
    return fields


def error_kind(error: str | None) -> str | None:
    """What went wrong in a few words, without what the error quotes: the text before
    its first `:` (`HTTP 503`, `timeout`, `connection error`, `payload.text`)."""
    if not error:
        return None
    return error.split(":", 1)[0].strip()[:_ERROR_KIND_CHARS]


def log_outcome(request: DeliveryRequest, outcome: Outcome, logger: logging.Logger = log) -> None:
    """Log `outcome` of `request` once (call it where the outcome is recorded)."""
    level = logging.WARNING if outcome.state == FAILED else logging.INFO
    if not logger.isEnabledFor(level):
        return
    detail = logger.isEnabledFor(logging.DEBUG)
    f = outcome_fields(request, outcome, detail=detail)
    parts = [f"{f['channel']}", f"attempt {f['attempt']}"]
    if f["status"] is not None:
        parts.append(f"status {f['status']}")
    if f["latency_ms"] is not None:
        parts.append(f"{f['latency_ms']:.0f} ms")
    if f["error_kind"]:
        parts.append(f["error_kind"])
    if outcome.state == PENDING and f["retry_in_ms"] is not None:
        parts.append(f"retry in {f['retry_in_ms']} ms")
    if f["render_warnings"]:
        parts.append(f"{f['render_warnings']} render warning(s)")
    if detail:
        parts.append(f"to {f['target']}")
    message = (f"delivery {f['delivery_id']} {f['state']}: {', '.join(parts)} "
               f"(alert {f['alert_id']}, event {f['alert_event_id']})")
    logger.log(level, message, extra=f)
