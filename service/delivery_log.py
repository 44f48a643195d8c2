"""`DeliveryLog` on MongoDB: the `deliveries` collection and the event stream.

Workers are threads (or forked processes), so this uses PyMongo's synchronous client;
`tocsin worker` builds one per process through `MongoDeliveryLog.factory(...)`.

A delivery document: `{_id: delivery id, alert_event_id, alert_id, monitor, channel,
target, status: queued|sent|failed|dead, attempts: [...], outcome, request}`. It is
created when the delivery is queued (`note_queued`), so an alert's detail view shows
deliveries still retrying.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pymongo import MongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.event_store import parse_time


class MongoDeliveryLog:
    def __init__(self, uri: str, database: str) -> None:
        self.client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)
        self.db = self.client[database]

    @classmethod
    def factory(cls, uri: str, database: str) -> Callable[[], MongoDeliveryLog]:
        """A zero-argument constructor: each worker process opens its own connection."""
        return lambda: cls(uri, database)

    def already_sent(self, delivery_id: str) -> bool:
        return self.db.deliveries.find_one({"_id": delivery_id, "status": "sent"}, {"_id": 1}) is not None

    def record_attempt(self, delivery_id: str, attempt: dict[str, Any]) -> None:
        self.db.deliveries.update_one(
            {"_id": delivery_id},
            {"$push": {"attempts": attempt}, "$set": {"updated_at": _now()}},
            upsert=True,
        )

    def record_outcome(self, delivery_id: str, request_summary: dict[str, Any], outcome: dict[str, Any]) -> None:
        fields = {k: v for k, v in request_summary.items() if k != "id"}
        self.db.deliveries.update_one(
            {"_id": delivery_id},
            {"$set": {**fields, "status": outcome.get("status"), "outcome": outcome, "updated_at": _now()}},
            upsert=True,
        )

    def emit_event(self, event: dict[str, Any]) -> None:
        """Store a `notification.*` event like an ingested one (deterministic id: once)."""
        if self.db.events.find_one({"_id": event["id"]}, {"_id": 1}) is not None:
            return
        counter = self.db.counters.find_one_and_update(
            {"_id": "events"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        doc = {"_id": event["id"], "seq": counter["n"], "time": parse_time(event["time"]),
               "stored_at": _now(), "event": event}
        try:
            self.db.events.insert_one(doc)
        except DuplicateKeyError:
            pass  # a retried worker emitted it first; its seq number stays a gap

    def close(self) -> None:
        self.client.close()


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def note_queued(db: Any, requests: list[Any]) -> None:
    """Create the delivery documents of freshly queued requests (existing ones untouched)."""
    from pymongo import UpdateOne

    if not requests:
        return
    now = _now()
    ops = [UpdateOne({"_id": r.id}, {"$setOnInsert": {
        "alert_event_id": r.alert_event_id, "alert_id": r.document.get("id"), "monitor": r.monitor.get("name"),
        "channel": r.kind, "target": r.target, "status": "queued", "attempts": [], "created_at": now,
    }}, upsert=True) for r in requests]
    await db.deliveries.bulk_write(ops, ordered=False)
