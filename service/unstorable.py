"""Engine output the database cannot store, traced to the monitors that made it.

A round's write (service/outbox.py) that fails on a value, not on the database (an
integer beyond 64 bits such as `max(n) * max(n)` of two large counts, text with an
unpaired surrogate, a type BSON lacks, a document over 16 MiB), would fail the same way
after every rebuild and so stop all evaluation. Instead the evaluator asks
`unstorable()` which monitors' output is at fault, quarantines them (stage "store") and
writes the rest of the round.

The check encodes, per monitor, what the outbox writes: each alert event's document and
its ledger requests (an entry carries the alert event's document, so the two fail
together: no entry is stored for an alert event that is not) and each changed alert.
It runs only after a write failed, so the common round pays nothing for it.

One output is not a monitor's: the alerts a reload closes (`resolved_by` "rules reload")
belong to the monitor's old text, quarantined perhaps for the very value they hold. The
new text must not be blamed for them: `scrub()` stores them without the fields that
cannot be stored (value, threshold, last event), so their closing is still recorded.

    storage failure (`is_storage_failure`): pymongo errors other than an encoding one
      -> the evaluator pauses and rebuilds, as before
    anything else: `unstorable()` names the monitors; none found -> it is re-raised
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import bson
from bson.errors import InvalidDocument
from pymongo.errors import PyMongoError

from delivery.ledger import new_entry
from delivery.request import build_requests
from dsl.ruleset import RuleSet
from engine.faults import describe
from engine.model import Alert, AlertEvent
from service.outbox import alert_event_doc

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # MongoDB's largest document


def is_storage_failure(exc: BaseException) -> bool:
    """The database failed (unreachable, refused a write), not the values written."""
    return isinstance(exc, PyMongoError) and not isinstance(exc, InvalidDocument)


def unstorable(alert_events: Sequence[AlertEvent], alerts: Sequence[Alert], ruleset: RuleSet, *,
               public_url: str) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """monitor -> (what cannot be stored, the event its output was about)."""
    now = datetime.now(timezone.utc)
    bad: dict[str, tuple[str, dict[str, Any] | None]] = {}
    for ae in alert_events:
        if ae.monitor not in bad and (problem := _alert_event_problem(ae, ruleset, public_url, now)):
            bad[ae.monitor] = (problem, ae.event)
    for alert in alerts:
        if alert.monitor not in bad and (problem := _problem(alert.to_dict())):
            bad[alert.monitor] = (problem, alert.last_event)
    return bad


def scrub(alert: Alert) -> None:
    """Set to None each of `value`, `threshold` and `last_event` that cannot be stored."""
    for name in ("value", "threshold", "last_event"):
        if _problem({"v": getattr(alert, name)}) is not None:
            setattr(alert, name, None)


def _alert_event_problem(ae: AlertEvent, ruleset: RuleSet, public_url: str, now: datetime) -> str | None:
    try:
        requests = build_requests(ae, ruleset, public_url=public_url)
        docs = [alert_event_doc(ae, now, [r.id for r in requests])]
        docs += [new_entry(r, now, wake_grace=0.0) for r in requests]
    except Exception as exc:  # a bug in building them is the monitor's output failing too
        return describe(exc)
    for doc in docs:
        if (problem := _problem(doc)) is not None:
            return problem
    return None


def _problem(doc: dict[str, Any]) -> str | None:
    try:
        size = len(bson.encode(doc))
    except Exception as exc:  # InvalidDocument, OverflowError, UnicodeEncodeError, …
        return f"cannot be stored: {describe(exc)}"
    if size > MAX_DOCUMENT_BYTES:
        return f"cannot be stored: a document of {size} bytes (at most {MAX_DOCUMENT_BYTES})"
    return None
