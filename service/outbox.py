"""Writing the engine's output: alert events, their ledger entries, alert state, emitted events.

Order matters for the guarantees of semantics.md. In one round, each with one write:
the ledger entries of every alert event of the round (`deliveries`, deterministic ids,
one per destination), and at the same time the alert events (`alert_events`, unique
deterministic `_id`, each naming its entries) and the changed alerts. The wake-ups go
to the broker as soon as the entries are stored (`DeliveryBridge.wake`, never
blocking), then the `alert.*` events are written. Any write that fails fails the round:
the evaluator rebuilds and replays, a regenerated alert event collides on `_id` and is
not counted again, and its ledger entries are written if they are missing (existing ones
are left untouched, so nothing is sent twice). The broker is never the only copy: an
entry whose wake-up is lost is woken by the reconciler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from delivery.request import DeliveryRequest, build_requests
from dsl.ruleset import RuleSet
from engine.model import Alert, AlertEvent, rfc3339
from service.db import Database
from service.delivery_bridge import DeliveryBridge
from service.event_store import DUPLICATE_KEY, store_events
from service.ledger_store import insert_entries
from service.metrics import Metrics

log = logging.getLogger("tocsin.service")

MAX_CAUSAL_DEPTH = 3
MAX_KNOWN_ALERTS = 1_000_000
EMITTED_TYPES = {"fired": "alert.fired", "resolved": "alert.resolved", "escalated": "alert.escalated"}


def alert_event_doc(ae: AlertEvent, now: datetime, delivery_ids: Sequence[str] = ()) -> dict[str, Any]:
    """The stored alert event; `delivery_ids` name its ledger entries (found by `_id`)."""
    return {"_id": ae.id, **ae.to_dict(), "at_time": ae.at, "created_at": now, "delivery_ids": list(delivery_ids)}


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
    def __init__(self, db: Database, delivery: DeliveryBridge, metrics: Metrics, *, public_url: str) -> None:
        self.db = db
        self.delivery = delivery
        self.metrics = metrics
        self.public_url = public_url
        self._stored_alerts: set[str] = set()  # alert ids known to have a document
        self._emitting: asyncio.Future | None = None

    async def record(self, alert_events: list[AlertEvent], ruleset: RuleSet,
                     changed: Sequence[Alert] = ()) -> None:
        """Write one round's output and wake its new deliveries.

        The ledger entries are written first and woken as soon as they are stored; then
        the changed alerts and the alert events, concurrently (one write per collection).
        Written with the other two at once, the entries waited for the database to finish
        all three: 3.2 ms instead of 1.6 from reading an event to waking its delivery, on
        the embedded database, which runs one command at a time. The `alert.*`
        events of the alert events not stored before are written in the background
        (one write in flight, so their sequence numbers commit in order); `flush()`
        waits for them, and the evaluator calls it before every checkpoint."""
        now = datetime.now(timezone.utc)
        unique = list({ae.id: ae for ae in alert_events}.values())
        requests = [r for ae in unique for r in build_requests(ae, ruleset, public_url=self.public_url)]
        claims = self.delivery.birth_claims(requests, now)
        new_ids = await insert_entries(self.db, requests, now, claims=claims,
                                       wake_grace=self.delivery.settings.wake_grace_seconds)
        self.delivery.wake(new_ids, claims, requests)
        _, rejected = await asyncio.gather(self.save_alerts(list(changed)),
                                           self._insert_alert_events(unique, requests, now))
        fresh = [ae for ae in unique if ae.id not in rejected]
        for ae in fresh:
            self.metrics.alert_events.labels(ae.kind).inc()
        # Replayed alert events (stored before a crash) may have lost their `alert.*`
        # event with it: those are written too, with the id lookup that skips the ones
        # that were stored (fresh ones need none: their ids are new).
        replayed = [ae for ae in unique if ae.id in rejected]
        for events, lookup in ((self._emitted(fresh), False), (self._emitted(replayed), True)):
            if events:
                previous = self._emitting
                self._emitting = asyncio.ensure_future(self._emit_after(previous, events, lookup))

    @staticmethod
    def _emitted(alert_events: list[AlertEvent]) -> list[dict[str, Any]]:
        events = [emitted_event(ae, EMITTED_TYPES[ae.kind]) for ae in alert_events if ae.kind in EMITTED_TYPES]
        return [e for e in events if e is not None]

    async def flush(self) -> None:
        """Wait until every `alert.*` event handed to the background is stored."""
        if self._emitting is not None:
            task, self._emitting = self._emitting, None
            await task

    async def _emit_after(self, previous: asyncio.Future | None, events: list[dict[str, Any]],
                          lookup: bool) -> None:
        if previous is not None:
            await previous
        await store_events(self.db, events, lookup=lookup)

    async def _insert_alert_events(self, unique: list[AlertEvent], requests: list[DeliveryRequest],
                                   now: datetime) -> set[str]:
        """Insert alert events; returns the ids that were stored before (a replay)."""
        rejected: set[str] = set()
        if not unique:
            return rejected
        ids: dict[str, list[str]] = {}
        for r in requests:
            ids.setdefault(r.alert_event_id, []).append(r.id)
        try:
            await self.db.alert_events.insert_many([alert_event_doc(ae, now, ids.get(ae.id, ())) for ae in unique],
                                                   ordered=False)
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") != DUPLICATE_KEY:
                    raise
                rejected.add(err["op"]["_id"])
        return rejected

    async def _emit(self, events: list[dict[str, Any] | None]) -> None:
        events = [e for e in events if e is not None]
        if events:
            await store_events(self.db, events)

    async def emit_acknowledged(self, alert: dict[str, Any], at: datetime) -> None:
        ae = AlertEvent(id=f"{alert['id']}:ack:{rfc3339(at)}", alert_id=alert["id"], monitor=alert["monitor"],
                        key=alert["key"], kind="acknowledged", at=at, severity=alert.get("severity", "error"),
                        event=alert.get("last_event"))
        await self._emit([emitted_event(ae, "alert.acknowledged", "alert.acknowledged")])

    async def save_alerts(self, alerts: list[Alert]) -> None:
        """Write the current state of changed alerts (one document per alert id): new
        alerts with one `insert_many`, known ones with one `bulk_write` of updates (an
        upsert costs the embedded database over ten times an insert)."""
        if not alerts:
            return
        now = datetime.now(timezone.utc)
        docs = {a.id: {**a.to_dict(), "sort_at": a.fired_at or a.pending_since or now, "updated_at": now}
                for a in alerts}
        new = [{"_id": i, **d} for i, d in docs.items() if i not in self._stored_alerts]
        existing = [i for i in docs if i in self._stored_alerts]
        if new:
            try:
                await self.db.alerts.insert_many(new, ordered=False)
            except BulkWriteError as exc:
                for err in exc.details.get("writeErrors", []):
                    if err.get("code") != DUPLICATE_KEY:
                        raise
                    existing.append(err["op"]["_id"])  # stored before this process knew it
        if existing:
            await self.db.alerts.bulk_write([UpdateOne({"_id": i}, {"$set": docs[i]}, upsert=True)
                                             for i in existing], ordered=False)
        if len(self._stored_alerts) > MAX_KNOWN_ALERTS:
            self._stored_alerts.clear()  # forgetting only costs a failed insert per alert
        self._stored_alerts.update(docs)
