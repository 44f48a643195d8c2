"""Quarantined monitors, as the service records and announces them.

When the engine quarantines a monitor (engine/faults.py), the evaluator that owns it:
- stores one document per monitor in `monitor_errors` (`_id` = monitor name, with the
  monitor's signature, error, stage, logical time and event id), which
  `GET /v1/monitors` reads on any replica: a monitor shows `status: "error"` while a
  document with its current signature exists, so a reload that changes it shows it
  released at once, before the owner has adopted the new rules;
- stores a `monitor.error` event in the event stream (a monitor can alert on it), with
  a deterministic id, so replaying the same events after a rebuild stores it once;
- counts it in `tocsin_monitor_errors_total{monitor}` and logs it with its traceback.
The owner deletes the document when a reload releases the monitor, and on a rebuild
drops the documents of its monitors that its engine no longer holds quarantined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from engine.events import from_ms
from engine.faults import MonitorFault
from engine.times import rfc3339
from service.db import Database
from service.event_store import store_events
from service.outbox import caused_by

EVENT_TYPE = "monitor.error"


def error_event(fault: MonitorFault, *, file: str | None = None, line: int | None = None) -> dict[str, Any]:
    """The `monitor.error` event of a fault; it continues the causal chain of the event the
    monitor failed on (a monitor on `monitor.error` that fails cannot loop)."""
    digest = hashlib.sha256(
        f"{fault.monitor}\x00{fault.signature}\x00{fault.at_ms}\x00{fault.event_id}".encode("utf-8", "surrogatepass"))
    return {
        "id": f"monitor-error-{digest.hexdigest()[:32]}",
        "type": EVENT_TYPE,
        "time": rfc3339(from_ms(fault.at_ms)),
        "source": "tocsin",
        "level": "error",
        "message": f"monitor {fault.monitor!r} stopped: {fault.error}",
        "data": {"monitor": fault.monitor, "error": fault.error, "stage": fault.stage,
                 "event_id": fault.event_id, "file": file, "line": line},
        "caused_by": caused_by({"caused_by": fault.caused_by} if fault.caused_by else None, fault.monitor),
    }


def _doc(fault: MonitorFault, event_id: str) -> dict[str, Any]:
    return {"monitor": fault.monitor, "signature": fault.signature, "error": fault.error, "stage": fault.stage,
            "at": from_ms(fault.at_ms), "event_id": fault.event_id, "error_event_id": event_id}


async def record(db: Database, faults: Iterable[tuple[MonitorFault, dict[str, Any]]]) -> None:
    """Store each fault's document and its `monitor.error` event (already built)."""
    now = datetime.now(timezone.utc)
    pairs = list(faults)
    for fault, event in pairs:
        await db.monitor_errors.update_one(
            {"_id": fault.monitor}, {"$set": _doc(fault, event["id"]), "$setOnInsert": {"recorded_at": now}},
            upsert=True)
    if pairs:
        await store_events(db, [event for _, event in pairs], lookup=True)


async def release(db: Database, monitors: Iterable[str]) -> None:
    """Forget the quarantine of `monitors` (a reload changed or removed them)."""
    names = list(monitors)
    if names:
        await db.monitor_errors.delete_many({"_id": {"$in": names}})


async def keep_only(db: Database, owned: Iterable[str], quarantined: Iterable[str]) -> None:
    """Of the `owned` monitors, keep the documents of the `quarantined` ones only."""
    stale = set(owned) - set(quarantined)
    if stale:
        await release(db, stale)


async def current(db: Database) -> dict[str, dict[str, Any]]:
    """Every stored quarantine, by monitor name."""
    return {doc["_id"]: doc async for doc in db.monitor_errors.find({})}


def shown(doc: dict[str, Any] | None, signature: str) -> dict[str, Any] | None:
    """A quarantine as `GET /v1/monitors` shows it, or None when the monitor has another
    text now (released by a reload)."""
    if doc is None or doc.get("signature") != signature:
        return None
    at, recorded = doc.get("at"), doc.get("recorded_at")
    return {"message": doc.get("error"), "stage": doc.get("stage"), "at": rfc3339(at) if at else None,
            "event_id": doc.get("event_id"), "recorded_at": rfc3339(recorded) if recorded else None}
