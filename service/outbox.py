"""Writing the engine's output: alert events (the outbox), alert state, emitted events.

Order matters for the guarantees of semantics.md: an alert event is stored first
(`alert_events`, unique deterministic `_id`, `queued: false`), then its deliveries are
enqueued and the record marked `queued: true`. A replay that regenerates the same alert
event collides on `_id` and is dropped, so nothing is sent twice; a crash between
storing and queueing leaves `queued: false`, which the sweeper re-queues.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from engine.model import AlertEvent, Destination, rfc3339
from service.db import Database
from service.event_store import DUPLICATE_KEY, parse_time, store_events

log = logging.getLogger("tocsin.service")

MAX_CAUSAL_DEPTH = 3
EMITTED_TYPES = {"fired": "alert.fired", "resolved": "alert.resolved", "escalated": "alert.escalated"}


def alert_event_doc(ae: AlertEvent, now: datetime) -> dict[str, Any]:
    return {"_id": ae.id, **ae.to_dict(), "at_time": ae.at, "created_at": now, "queued": False}


def alert_event_from_doc(doc: dict[str, Any]) -> AlertEvent:
    """Rebuild the value the delivery package takes (sweeper, detail views)."""
    def t(name: str) -> datetime | None:
        return parse_time(doc[name]) if doc.get(name) else None

    return AlertEvent(
        id=doc["_id"], alert_id=doc["alert_id"], monitor=doc["monitor"], key=doc["key"],
        kind=doc["kind"], at=parse_time(doc["at"]), severity=doc["severity"],
        destinations=tuple(Destination(d["kind"], d["address"], d.get("group")) for d in doc["destinations"]),
        count=doc.get("count", 1), value=doc.get("value"), threshold=doc.get("threshold"),
        event=doc.get("event"), labels=doc.get("labels") or {}, message=doc.get("message"),
        fired_at=t("fired_at"), resolved_at=t("resolved_at"), muted=doc.get("muted", False),
    )


def caused_by(trigger: dict[str, Any] | None, monitor: str) -> dict[str, Any]:
    """The causal chain of an event the service emits because `monitor` acted on `trigger`."""
    prior = (trigger or {}).get("caused_by") or {}
    monitors = list(prior.get("monitors") or [])
    if monitor not in monitors:
        monitors.append(monitor)
    return {"monitors": monitors, "depth": int(prior.get("depth") or 0) + 1}


def emitted_event(ae: AlertEvent, event_type: str, suffix: str | None = None) -> dict[str, Any] | None:
    """The `alert.*` event for an alert event, or None past the causal depth limit."""
    chain = caused_by(ae.event, ae.monitor)
    if chain["depth"] > MAX_CAUSAL_DEPTH:
        return None
    trigger = ae.event or {}
    event: dict[str, Any] = {
        "id": f"{ae.id}:{suffix or event_type}",
        "type": event_type,
        "time": rfc3339(ae.at),
        "source": "tocsin",
        "data": {"monitor": ae.monitor, "key": dict(ae.key), "value": ae.value, "threshold": ae.threshold,
                 "alert_id": ae.alert_id, "kind": ae.kind, "severity": ae.severity, "count": ae.count},
        "caused_by": chain,
    }
    for scope in ("instance", "customer", "flow"):  # so `on flow …` monitors can follow alerts
        if trigger.get(scope) is not None:
            event[scope] = trigger[scope]
    return event


class Outbox:
    def __init__(self, db: Database, delivery: Any, metrics: Any) -> None:
        self.db = db
        self.delivery = delivery
        self.metrics = metrics

    async def record(self, alert_events: list[AlertEvent], ruleset: Any) -> list[AlertEvent]:
        """Store alert events; enqueue and emit only those not stored before."""
        if not alert_events:
            return []
        now = datetime.now(timezone.utc)
        docs = {ae.id: alert_event_doc(ae, now) for ae in alert_events}
        rejected: set[str] = set()
        try:
            await self.db.alert_events.insert_many(list(docs.values()), ordered=False)
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") != DUPLICATE_KEY:
                    raise
                rejected.add(err["op"]["_id"])
        fresh = [ae for ae in dict((ae.id, ae) for ae in alert_events).values() if ae.id not in rejected]
        for ae in fresh:
            self.metrics.alert_events.labels(ae.kind).inc()
        await self._emit([emitted_event(ae, EMITTED_TYPES[ae.kind]) for ae in fresh if ae.kind in EMITTED_TYPES])
        await self.enqueue(fresh, ruleset)
        return fresh

    async def enqueue(self, alert_events: list[AlertEvent], ruleset: Any) -> None:
        """Queue deliveries, then mark the records queued (muted ones need none)."""
        done = []
        for ae in alert_events:
            if await self.delivery.enqueue_alert_event(ae, ruleset):
                done.append(ae.id)
        if done:
            await self.db.alert_events.update_many({"_id": {"$in": done}}, {"$set": {"queued": True}})

    async def _emit(self, events: list[dict[str, Any] | None]) -> None:
        events = [e for e in events if e is not None]
        if events:
            await store_events(self.db, events)

    async def emit_acknowledged(self, alert: dict[str, Any], at: datetime) -> None:
        ae = AlertEvent(id=f"{alert['id']}:ack:{rfc3339(at)}", alert_id=alert["id"], monitor=alert["monitor"],
                        key=alert["key"], kind="acknowledged", at=at, severity=alert.get("severity", "error"),
                        event=alert.get("last_event"))
        await self._emit([emitted_event(ae, "alert.acknowledged", "alert.acknowledged")])

    async def save_alerts(self, alerts: list[Any]) -> None:
        """Upsert the current state of changed alerts (one document per alert id)."""
        if not alerts:
            return
        now = datetime.now(timezone.utc)
        ops = []
        for a in alerts:
            doc = a.to_dict()
            sort_at = a.fired_at or a.pending_since or now
            ops.append(UpdateOne({"_id": a.id}, {"$set": {**doc, "sort_at": sort_at, "updated_at": now}},
                                 upsert=True))
        await self.db.alerts.bulk_write(ops, ordered=False)
