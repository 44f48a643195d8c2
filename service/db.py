"""MongoDB storage: the client, the collections and their indexes.

Collections (design.md § Storage, plus two small ones of the service's own):

| collection | holds | key indexes |
| --- | --- | --- |
| `events` | stored envelopes `{_id: event id, seq, time, stored_at, event}` | `_id` (unique event id), `seq` unique, `stored_at` TTL |
| `alerts` | current state of each alert, one document per alert id | `(sort_at, _id)`, `monitor`, `status` |
| `alert_events` | one document per deterministic alert-event id, with its ledger entries' ids (`delivery_ids`) | `_id` unique, `alert_id` |
| `deliveries` | the delivery ledger (delivery/ledger.py): one entry per alert event and destination | `due_at`, sparse (open entries only have the field) |
| `silences` | silences created through the API | `ends_at` |
| `rulesets` | versioned rule text (`_id` = version) and the `state` document | |
| `checkpoints` | evaluator resume points and leases | |
| `snapshots` | engine snapshots in compressed chunks (service/lease.py) | |
| `counters` | the `events` sequence counter | |
| `commands` | acknowledge / clear requests waiting for the evaluator | `applied` |
| `monitor_errors` | quarantined monitors, one document per monitor name (service/monitor_errors.py) | |
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from service.recent_events import RecentEvents


# A server that stops answering (frozen, partitioned) fails a request within seconds
# instead of hanging it: 5 s to find the server, 20 s for one command's answer.
CLIENT_TIMEOUTS = {"serverSelectionTimeoutMS": 5000, "socketTimeoutMS": 20000, "connectTimeoutMS": 5000}


def without_journal(concern: WriteConcern) -> WriteConcern:
    """The same write concern (same `w`, `wtimeout`) without waiting for the journal."""
    return WriteConcern(**{**concern.document, "j": False})


def _collection(name: str) -> property:
    """A collection of the service's database, read as an attribute: `db.events`."""
    return property(lambda self: self.db[name])


@dataclass
class Database:
    """One connection and the collections the service uses."""

    client: AsyncMongoClient
    db: AsyncDatabase
    synced_by_default: bool = False  # the embedded database: every write waits for an fsync
    # What this process stored lately, for its evaluators (service/recent_events.py).
    recent: RecentEvents = field(default_factory=RecentEvents)

    @classmethod
    def connect(cls, uri: str, name: str = "tocsin") -> Database:
        """`synced_by_default` follows the URI: `journal=true` (the embedded database's
        `.uri` has it) makes every write wait for the journal's fsync."""
        client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True, **CLIENT_TIMEOUTS)
        return cls(client, client[name], bool(client.write_concern.document.get("j")))

    def unsynced(self) -> Database:
        """The same database for writes that a later synced write makes durable: on the
        embedded database they skip their own fsync, and the next `j: true` commit
        flushes the journal up to and including them. Callers guarantee that later
        write: the evaluator's output is covered by its checkpoint (a crash before it
        replays the events that produced them), a sequence-number allocation by the
        insert it numbers. Elsewhere this is the database itself."""
        if not self.synced_by_default:
            return self
        return Database(self.client, self.db.with_options(write_concern=without_journal(self.db.write_concern)),
                        recent=self.recent)

    events = _collection("events")
    alerts = _collection("alerts")
    alert_events = _collection("alert_events")
    deliveries = _collection("deliveries")
    silences = _collection("silences")
    rulesets = _collection("rulesets")
    checkpoints = _collection("checkpoints")
    snapshots = _collection("snapshots")
    counters = _collection("counters")
    commands = _collection("commands")
    monitor_errors = _collection("monitor_errors")

    async def ensure_indexes(self, retention: timedelta) -> None:
        """Create every index (idempotent); the TTL follows `TOCSIN_RETENTION`."""
        ttl = max(1, int(retention.total_seconds()))
        await self._ensure_ttl(ttl)
        await self.events.create_indexes(
            [
                IndexModel([("seq", ASCENDING)], unique=True, name="seq_unique"),
                IndexModel([("time", ASCENDING)], name="time"),
            ]
        )
        await self.alerts.create_indexes(
            [
                IndexModel([("sort_at", DESCENDING), ("_id", DESCENDING)], name="newest"),
                IndexModel([("monitor", ASCENDING)], name="monitor"),
                IndexModel([("status", ASCENDING)], name="status"),
            ]
        )
        await self.alert_events.create_indexes([IndexModel([("alert_id", ASCENDING)], name="alert")])
        # The ledger has one secondary index, `due_at`: every index costs each of the
        # entry's writes (insert, claim, outcome) about 0.2 ms on the embedded database, a
        # third of an update. An alert's entries are found by `_id` (its alert events list
        # them), the open ones through `due_at`.
        await self._ensure_due_index()
        await self._drop_indexes(self.deliveries, ("alert_event", "state_created"))
        await self.silences.create_index([("ends_at", ASCENDING)], name="ends_at")
        await self.commands.create_index([("applied", ASCENDING)], name="applied")
        # Create the sequence counter up front: concurrent first upserts would collide.
        with contextlib.suppress(DuplicateKeyError):
            await self.counters.update_one({"_id": "events"}, {"$setOnInsert": {"n": 0}}, upsert=True)

    async def _ensure_due_index(self) -> None:
        """`due_at`, sparse: only open entries have the field (a final one's outcome
        unsets it), so the index holds only them. Indexed as null, the sent history sat
        in front of every due entry, and the embedded database walked all of it on each
        of the reconciler's looks, once a second: 1.1 s with 20,000 sent entries
        (bench/bench_ledger_queries.py), more every day. An index from before (not sparse) is replaced once, after the final
        entries written then (with `due_at: null`) lose the field."""
        existing = (await self.deliveries.index_information()).get("due_at")
        if existing is not None and not existing.get("sparse"):
            await self.deliveries.update_many({"due_at": {"$type": "null"}}, {"$unset": {"due_at": ""}})
            with contextlib.suppress(OperationFailure):  # another replica dropped it first
                await self.deliveries.drop_index("due_at")
        await self.deliveries.create_index([("due_at", ASCENDING)], name="due_at", sparse=True)

    @staticmethod
    async def _drop_indexes(collection: AsyncCollection, names: tuple[str, ...]) -> None:
        """Drop indexes an earlier version created and this one no longer reads."""
        existing = await collection.index_information()
        for name in names:
            if name in existing:
                await collection.drop_index(name)

    async def _ensure_ttl(self, seconds: int) -> None:
        """The retention index; a changed `TOCSIN_RETENTION` replaces the old one."""
        existing = await self.events.index_information()
        current = existing.get("retention", {}).get("expireAfterSeconds")
        if current is not None and current != seconds:
            await self.events.drop_index("retention")
        if current != seconds:
            await self.events.create_index(
                [("stored_at", ASCENDING)], expireAfterSeconds=seconds, name="retention"
            )

    async def ping(self) -> bool:
        try:
            await self.client.admin.command("ping")
            return True
        except Exception:
            return False

    async def close(self) -> None:
        await self.client.close()
