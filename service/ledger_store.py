"""The delivery ledger on MongoDB (`deliveries`): written by the evaluator, claimed and
recorded by workers, swept by the reconciler. The rules are `delivery.ledger`'s.

- `insert_entries(db, requests, now, grace)` (async, evaluator): one `insert_many` per
  round; an entry that exists already (a replay regenerated its alert event) is left
  as it is.
- `MongoLedger` (sync PyMongo, worker threads): `claim()` is one `find_one_and_update`
  on the entry's `_id`; `record()` goes through a `GroupCommit`: the outcomes of all
  threads are written together (one `bulk_write`, and one insert of their
  `notification.*` events), and a batch the database refused is kept and written again
  until it is taken, so an attempt that went out is recorded once the database is back.
- `due_entries` / `mark_woken` (async, reconciler).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, TypeVar

from pymongo import MongoClient, ReturnDocument, UpdateOne
from pymongo.errors import AutoReconnect, BulkWriteError, ConnectionFailure, OperationFailure

from delivery.ledger import (
    OPEN_STATES,
    SENDING,
    SENT,
    Claim,
    Outcome,
    claim_filters,
    claim_from_entry,
    claim_update,
    fresh_claim_filter,
    lease_for,
    new_entry,
    outcome_filter,
    outcome_update,
)
from delivery.request import DeliveryRequest
from service.db import CLIENT_TIMEOUTS, Database, without_journal
from engine.times import parse_time
from service.event_store import DUPLICATE_KEY, filler
from service.recent_events import RecentEvents

log = logging.getLogger("tocsin.ledger")

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
OUTCOME_LINGER = 0.05  # seconds
CHUNK = 50  # ids per `$in`: SecantusDB matches `$in` in time quadratic in its length


async def insert_entries(db: Database, requests: Sequence[DeliveryRequest], now: datetime,
                         *, wake_grace: float, claims: Sequence[Claim] = ()) -> list[str]:
    """Write the ledger entries of `requests` (those with a claim in `claims` born
    claimed by it); returns the ids that are new."""
    if not requests:
        return []
    by_id = {c.id: c for c in claims}
    docs = list({r.id: new_entry(r, now, wake_grace=wake_grace, claim=by_id.get(r.id))
                 for r in requests}.values())
    existing: set[str] = set()
    try:
        await db.deliveries.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        for err in exc.details.get("writeErrors", []):
            if err.get("code") != DUPLICATE_KEY:
                raise
            existing.add(docs[err["index"]]["_id"])
    return [d["_id"] for d in docs if d["_id"] not in existing]


async def due_entries(db: Database, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Open entries whose `due_at` has passed: a lost wake-up, a due retry, an expired
    claim. Each as `{_id, state, first_attempt_at, due_at, created_at}`."""
    cursor = db.deliveries.find({"due_at": {"$lte": now}},
                                {"_id": 1, "state": 1, "first_attempt_at": 1, "due_at": 1, "created_at": 1}).limit(limit)
    return [d async for d in cursor if d.get("state") in OPEN_STATES]


async def mark_woken(db: Database, ids: Sequence[str], now: datetime, *, wake_grace: float) -> None:
    """Push the reconciler's next look at `ids` a grace period on (a wake-up is on its way)."""
    again = now + timedelta(seconds=wake_grace)
    for i in range(0, len(ids), CHUNK):
        await db.deliveries.update_many({"_id": {"$in": list(ids[i:i + CHUNK])}, "due_at": {"$lte": now}},
                                        {"$set": {"due_at": again}})


async def oldest_pending_age(db: Database, now: datetime, *, scan_limit: int = 10_000) -> float:
    """Seconds since the oldest open entry was created (0 when none is open).

    Open entries are the ones with a `due_at` (sent and failed ones have none), read
    through its index; past `scan_limit` open entries the answer covers the ones due
    first (a stuck entry, woken and never sent, is among them)."""
    cursor = db.deliveries.find({"due_at": {"$gte": EPOCH}}, {"created_at": 1, "state": 1}).sort("due_at", 1)
    oldest = None
    async for doc in cursor.limit(scan_limit):
        created = doc.get("created_at")
        if doc.get("state") in OPEN_STATES and created and (oldest is None or created < oldest):
            oldest = created
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())


class GroupCommit(Generic[T]):
    """Writes from many threads batched into one call of `write(items)`.

        commit = GroupCommit(write, max_batch=500)
        commit.add(item)      # returns once written, or after `wait_seconds` (then the
                              # item stays queued and is written when the database is back)
        commit.close(10.0)    # write what is queued (waiting at most that long), then stop

    One flusher thread (started on first use, so after any fork) takes everything
    queued and writes it; with `linger_seconds`, a batch shorter than `max_batch`
    waits that long for more items first. A write that fails because the database cannot be reached keeps
    the batch at the front of the queue and is tried again with backoff; any other error
    is a bug: the batch is logged and dropped (its entries' claims expire and they are
    sent again), so it cannot block the outcomes behind it. Items are written in the
    order they were added.
    """

    def __init__(self, write: Callable[[list[T]], None], *, max_batch: int = 500,
                 wait_seconds: float = 5.0, linger_seconds: float = 0.0, name: str = "group-commit",
                 settled: Callable[[list[T]], None] | None = None, max_lag_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write = write
        self.settled = settled  # told of every batch that left the queue, written or dropped
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self.linger_seconds = linger_seconds  # how long a short batch waits for company
        # With `max_lag_seconds`, `add` holds its caller while the oldest queued item has
        # waited longer than that (at most that long again): callers that outrun the
        # database slow to its pace instead of piling up unwritten items.
        self.max_lag_seconds = max_lag_seconds
        self.clock = clock
        self.retrying = False  # the batch being written failed before (read by `write`)
        self.name = name
        self._cond = threading.Condition()
        self._queue: list[tuple[T, threading.Event, float]] = []  # item, written, when added (clock)
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, item: T) -> bool:
        done = threading.Event()
        with self._cond:
            self._queue.append((item, done, self.clock()))
            if not self._closed and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
            if self.max_lag_seconds is not None:
                self._cond.wait_for(self._caught_up, self.max_lag_seconds)
        return done.wait(self.wait_seconds) if self.wait_seconds > 0 else False

    def _caught_up(self) -> bool:
        return self._lag() <= self.max_lag_seconds  # type: ignore[operator]

    def _lag(self) -> float:
        return self.clock() - self._queue[0][2] if self._queue else 0.0

    @property
    def lag(self) -> float:
        """Seconds the oldest queued item has waited (0 when none is queued)."""
        with self._cond:
            return self._lag()

    @property
    def backlog(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self, timeout: float = 10.0) -> bool:
        """Wait (at most `timeout`) until everything queued is written, then stop the
        flusher; True if nothing was left behind."""
        with self._cond:
            drained = self._cond.wait_for(lambda: not self._queue, timeout)
            self._closed = True
            self._cond.notify_all()
        if not drained:
            log.warning("%s: %d outcomes not written at shutdown; their deliveries are sent "
                        "again when their claims expire", self.name, self.backlog)
        return drained

    def _run(self) -> None:
        backoff = 0.05
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closed)
                if self._closed:
                    return
                if self.linger_seconds and not self.retrying and len(self._queue) < self.max_batch:
                    self._cond.wait_for(lambda: len(self._queue) >= self.max_batch or self._closed,
                                        self.linger_seconds)
                batch = self._queue[: self.max_batch]
            try:
                self.write([item for item, _, _ in batch])
            except (ConnectionFailure, OperationFailure) as exc:  # the database is away: keep it, try again
                if isinstance(exc, OperationFailure) and not exc.timeout:
                    log.exception("%s: dropped a batch of %d the database refused", self.name, len(batch))
                else:
                    log.warning("%s: write of %d failed (%s: %s); retrying in %.1fs", self.name, len(batch),
                                type(exc).__name__, exc, backoff)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    self.retrying = True
                    continue
            except Exception:
                log.exception("%s: dropped a batch of %d that cannot be written", self.name, len(batch))
            backoff = 0.05
            self.retrying = False
            if self.settled is not None:
                self.settled([item for item, _, _ in batch])
            with self._cond:
                del self._queue[: len(batch)]
                self._cond.notify_all()
            for _, done, _ in batch:
                done.set()


class MongoLedger:
    """`delivery.ledger.Ledger` on MongoDB, for worker threads (one per process)."""

    def __init__(self, uri: str, database: str, *, recent: RecentEvents | None = None,
                 max_lag_seconds: float | None = None) -> None:
        self.client: MongoClient = MongoClient(uri, tz_aware=True, **CLIENT_TIMEOUTS)
        # The `notification.*` events it stores, for the evaluators of the same process
        # (`tocsin serve` with its own workers): they sit between the events it ingests.
        self.recent = recent
        # Claims and outcomes need no fsync of their own, even when the URI asks every
        # write for one (`journal=true`): one lost in a crash means an entry is sent again
        # with the same idempotency key, never lost (delivery/ledger.py).
        self.db = self.client.get_database(database, write_concern=without_journal(self.client.write_concern))
        # Workers do not wait for their outcome to be written: the claim's lease covers the
        # gap, and a batch the database refuses is kept and written when it is back. A
        # short batch lingers 50 ms for others: each write costs four commands (the
        # update, then the `notification.*` events' lookup, `$inc` and insert) whatever
        # its size, and in a storm the database is what everything waits for.
        #
        # `max_lag_seconds` (a `tocsin worker`: a third of the lease) bounds how far sending
        # may run ahead of recording: a worker thread whose outcome finds the oldest unwritten
        # one older than that waits (at most that long) before taking its next wake-up. In a
        # storm on a slow database, outcomes otherwise waited past their claims' leases, the
        # reconciler woke those entries again, and another worker process sent them a second
        # time (330-390 repeats in a 6,000-alert storm, bench_storm --mode redis). The
        # embedded service needs no bound: its reconciler skips the entries its own workers
        # hold (`DeliveryBridge._held_here`).
        self.commit: GroupCommit[Outcome] = GroupCommit(self._write, wait_seconds=0.0, linger_seconds=OUTCOME_LINGER,
                                                        name="ledger-record", settled=self._settled,
                                                        max_lag_seconds=max_lag_seconds)
        # Entries whose outcome is queued here and not yet written: their lease may run out
        # in the database meanwhile (a long storm, the database away), but they were sent;
        # this process does not claim them again.
        self._unwritten: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def factory(cls, uri: str, database: str, *, max_lag_seconds: float | None = None) -> Callable[[], MongoLedger]:
        """A zero-argument constructor: each worker process opens its own connection."""
        return lambda: cls(uri, database, max_lag_seconds=max_lag_seconds)

    def claim(self, delivery_id: str, *, now: datetime, lease: float, token: str,
              request: DeliveryRequest | None = None) -> Claim | None:
        """One conditional `update_one` (two for an entry that is not pending), then a read
        of the claimed entry: `find_one_and_update` scans the whole collection on the
        embedded database, where these use the `_id` index. With the `request` a wake-up
        carried, a never-attempted entry takes the one update alone."""
        with self._lock:
            if delivery_id in self._unwritten:
                return None
        if request is not None:
            lease_until = now + timedelta(seconds=lease_for(request, lease))
            fresh = self.db.deliveries.update_one(fresh_claim_filter(delivery_id, now),
                                                  claim_update(token, now, lease_until))
            if fresh.modified_count == 1:
                return Claim(request, token, 1, None, lease_until)
        lease_until = now + timedelta(seconds=lease)
        update = claim_update(token, now, lease_until)
        for query in claim_filters(delivery_id, now):
            if self.db.deliveries.update_one(query, update).modified_count == 1:
                break
        else:
            return None
        entry = self.db.deliveries.find_one({"_id": delivery_id, "claimed_by": token},
                                            {"request": 1, "attempts.attempt": 1, "first_attempt_at": 1})
        if entry is None:
            return None
        claim = claim_from_entry(entry, token, lease_until)
        longer = lease_for(claim.request, lease)
        if longer > lease:  # a channel with a long timeout: one more update, before sending
            lease_until = now + timedelta(seconds=longer)
            self.db.deliveries.update_one({"_id": delivery_id, "claimed_by": token},
                                          {"$set": {"lease_until": lease_until, "due_at": lease_until}})
            claim = claim_from_entry(entry, token, lease_until)
        return claim

    def renew(self, claim: Claim, *, now: datetime, lease: float) -> Claim | None:
        """One conditional update: a new lease if the entry is still ours."""
        lease_until = now + timedelta(seconds=lease_for(claim.request, lease))
        result = self.db.deliveries.update_one(
            {"_id": claim.id, "state": SENDING, "claimed_by": claim.token},
            {"$set": {"lease_until": lease_until, "due_at": lease_until, "updated_at": now}})
        return dataclasses.replace(claim, lease_until=lease_until) if result.modified_count == 1 else None

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            self._unwritten.add(outcome.delivery_id)
        self.commit.add(outcome)

    def unwritten(self) -> set[str]:
        """Entries sent by this process whose outcome is not written yet."""
        with self._lock:
            return set(self._unwritten)

    def _settled(self, outcomes: list[Outcome]) -> None:
        with self._lock:
            self._unwritten.difference_update(o.delivery_id for o in outcomes)

    def _write(self, outcomes: list[Outcome]) -> None:
        """The `notification.sent` events first, then the outcomes, then the events of the
        failures that counted. A process killed between two of these writes loses
        nothing: an entry whose outcome was not written is sent again when its lease
        runs out (same key), and its event, stored already, is not stored twice
        (deterministic id). Written after the outcome, a success's event was lost with
        such a kill. A failure's event still waits for its outcome: a stale claimant's
        failure must not announce `notification.failed` for an entry another worker sent.
        Event ids are new unless this batch was written before and its answer lost: only
        then are they looked up (a batch of repeats would take many numbers)."""
        now = datetime.now(timezone.utc)
        sent = [o.event for o in outcomes if o.state == SENT and o.event is not None]
        if sent:
            store_events_sync(self.db, sent, now, lookup=self.commit.retrying, recent=self.recent)
        ops = [UpdateOne(outcome_filter(o), outcome_update(o, now)) for o in outcomes]
        result = self.db.deliveries.bulk_write(ops, ordered=False)
        failed = [o for o in outcomes if o.state != SENT and o.event is not None]
        if failed and result.matched_count < len(ops):  # a stale claimant's outcome did not count
            failed = self._counted(failed)
        if failed:
            store_events_sync(self.db, [o.event for o in failed], now, lookup=self.commit.retrying,
                              recent=self.recent)

    def _counted(self, outcomes: list[Outcome]) -> list[Outcome]:
        """The outcomes whose update took effect (its attempt is the entry's, in its state),
        so an ignored outcome emits no `notification.*` event. Also right when the batch is
        written a second time after a lost answer."""
        ids = [o.delivery_id for o in outcomes]
        entries: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), CHUNK):
            for d in self.db.deliveries.find({"_id": {"$in": ids[i:i + CHUNK]}}, {"state": 1, "attempts": 1}):
                entries[d["_id"]] = d
        return [o for o in outcomes
                if (e := entries.get(o.delivery_id)) and e.get("state") == o.state and o.attempt in e.get("attempts", ())]

    def close(self, timeout: float = 10.0) -> None:
        """Write the outcomes still queued (at most `timeout`), then disconnect."""
        self.commit.close(timeout)
        self.client.close()


def store_events_sync(db: Any, events: list[dict[str, Any]], now: datetime, *, lookup: bool = True,
                      recent: RecentEvents | None = None) -> None:
    """Store service-emitted events like ingested ones (deterministic ids: each once).
    With `lookup`, known ids are looked up first, so a repeat takes no sequence number;
    without, a repeat's number is taken by a filler document. What was stored is left in
    `recent` too, for this process's evaluators (service/recent_events.py)."""
    unique = list({e["id"]: e for e in events}.values())
    ids = [e["id"] for e in unique] if lookup else []
    seen: set[str] = set()
    for i in range(0, len(ids), CHUNK):
        seen.update(d["_id"] for d in db.events.find({"_id": {"$in": ids[i:i + CHUNK]}}, {"_id": 1}))
    fresh = [e for e in unique if e["id"] not in seen]
    if not fresh:
        return
    counter = None
    for _ in range(3):  # two processes creating the counter at once: one upsert answers nothing
        counter = db.counters.find_one_and_update({"_id": "events"}, {"$inc": {"n": len(fresh)}}, upsert=True,
                                                  return_document=ReturnDocument.AFTER)
        if counter is not None:
            break
    if counter is None:
        raise AutoReconnect("the event counter could not be read")  # kept and written again
    first = counter["n"] - len(fresh) + 1
    docs = [{"_id": e["id"], "seq": first + i, "time": parse_time(e["time"]), "stored_at": now, "event": e}
            for i, e in enumerate(fresh)]
    try:
        db.events.insert_many(docs, ordered=False)
    except BulkWriteError as exc:  # stored before (a lost answer) or by a racing writer
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        refused = {err["index"] for err in errors}
        if recent is not None:
            recent.add(d for i, d in enumerate(docs) if i not in refused)
        fillers = [filler(docs[i]["seq"], now) for i in sorted(refused)]
        with contextlib.suppress(BulkWriteError):  # their numbers are filled (service/event_store.py)
            db.events.insert_many(fillers, ordered=False)
            if recent is not None:
                recent.add(fillers)
    else:
        if recent is not None:
            recent.add(docs)


__all__ = ["insert_entries", "due_entries", "mark_woken", "oldest_pending_age", "GroupCommit",
           "MongoLedger", "store_events_sync"]
