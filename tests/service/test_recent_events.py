"""The evaluator takes what its own process just stored without reading it back
(service/recent_events.py), and reads the database for everything else."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from service.db import Database
from service.event_store import EventWriter, store_events
from service.recent_events import RecentEvents
from service.seq_reader import SeqReader


def ev(i: int | str) -> dict:
    return {"id": f"ev-{i}", "type": "execution.failed", "time": "2026-01-02T03:04:05.000Z"}


class Reads:
    """The events collection, counting its `find` calls (the reads that were made)."""

    def __init__(self, inner) -> None:
        self.inner, self.finds, self.filters = inner, 0, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def find(self, *args, **kwargs):
        self.finds += 1
        self.filters.append(args[0] if args else kwargs.get("filter"))
        return self.inner.find(*args, **kwargs)


class CountingDatabase(Database):
    @property
    def events(self):
        if not hasattr(self, "_reads"):
            self._reads = Reads(self.db["events"])
        return self._reads


@pytest.fixture
async def db(mongo_uri):
    plain = Database.connect(mongo_uri, f"recent_{uuid.uuid4().hex[:10]}")
    database = CountingDatabase(plain.client, plain.db)
    yield database
    await database.close()


def test_a_run_stops_at_the_first_number_not_stored_here():
    recent = RecentEvents()
    recent.add([{"seq": s} for s in (1, 2, 3, 5)])
    assert [d["seq"] for d in recent.run(1, 10)] == [1, 2, 3]
    assert [d["seq"] for d in recent.run(2, 1)] == [2]
    assert recent.run(4, 10) == []


def test_the_oldest_documents_go_first_beyond_the_capacity():
    recent = RecentEvents(capacity=3)
    recent.add([{"seq": s} for s in range(1, 6)])
    assert len(recent) == 3 and recent.run(1, 10) == [] and [d["seq"] for d in recent.run(3, 10)] == [3, 4, 5]


async def test_what_this_process_stored_is_evaluated_without_a_read(db):
    reader = SeqReader(db, 0, grace_seconds=3600)
    await EventWriter(db).store([ev(1), ev(2)])
    await store_events(db, [ev(3)], lookup=False)
    before = db.events.finds
    assert [d["_id"] for d in await reader.next_batch()] == ["ev-1", "ev-2", "ev-3"]
    assert db.events.finds == before and reader.after == 3


async def test_another_writers_events_are_read_from_the_database_in_order(db):
    """A number this process did not store ends the run, and since this process stored
    later ones the reader goes on in the database at once (the evaluator takes a short
    batch for "caught up", so they would otherwise wait for its next wake-up)."""
    reader = SeqReader(db, 0, grace_seconds=3600)
    await store_events(db, [ev(1)], lookup=False)
    await db.counters.update_one({"_id": "events"}, {"$inc": {"n": 1}})
    await db.events.insert_one({"_id": "other", "seq": 2, "event": ev("other")})  # another process's
    await store_events(db, [ev(3)], lookup=False)
    finds = db.events.finds
    assert [d["_id"] for d in await reader.next_batch()] == ["ev-1", "other", "ev-3"]
    assert db.events.finds > finds
    # Only the other writer's number was read: this process's own went on unread.
    assert db.events.filters[finds:] == [{"seq": {"$gte": 2, "$lt": 3}}]


async def test_between_other_writers_numbers_the_reader_reads_only_theirs(db):
    """A worker process's `notification.*` events between this process's events: each
    read covers the other writer's numbers alone, in one batch, in order."""
    reader = SeqReader(db, 0, grace_seconds=3600)

    async def others(*names):
        await db.counters.update_one({"_id": "events"}, {"$inc": {"n": len(names)}})
        n = (await db.counters.find_one({"_id": "events"}))["n"]
        await db.events.insert_many([{"_id": name, "seq": n - len(names) + 1 + i, "event": ev(name)}
                                     for i, name in enumerate(names)])

    await store_events(db, [ev(1), ev(2)], lookup=False)   # 1, 2
    await others("w1", "w2")                                # 3, 4
    await store_events(db, [ev(5)], lookup=False)           # 5
    await others("w3")                                      # 6
    await store_events(db, [ev(7), ev(8)], lookup=False)    # 7, 8
    finds = db.events.finds
    docs = await reader.next_batch()
    assert [d["_id"] for d in docs] == ["ev-1", "ev-2", "w1", "w2", "ev-5", "w3", "ev-7", "ev-8"]
    assert db.events.filters[finds:] == [{"seq": {"$gte": 3, "$lt": 5}}, {"seq": {"$gte": 6, "$lt": 7}}]
    assert reader.after == 8


async def test_a_hole_among_another_writers_numbers_ends_the_batch_there(db):
    reader = SeqReader(db, 0, grace_seconds=3600)
    await store_events(db, [ev(1)], lookup=False)                     # 1
    await db.counters.update_one({"_id": "events"}, {"$inc": {"n": 1}})  # 2: taken, not yet stored
    await store_events(db, [ev(3)], lookup=False)                     # 3
    assert [d["_id"] for d in await reader.next_batch()] == ["ev-1"]  # waits for 2 (its grace)
    await db.events.insert_one({"_id": "late", "seq": 2, "event": ev("late")})
    assert [d["_id"] for d in await reader.next_batch()] == ["late", "ev-3"]


async def test_a_refused_repeat_is_not_offered_and_its_filler_is_stepped_over(db):
    reader = SeqReader(db, 0, grace_seconds=3600)
    writer = EventWriter(db)
    await writer.store([ev(1)])
    assert await writer.store([ev(1), ev(2)]) == (["ev-1", "ev-2"], 1)
    docs = await reader.next_batch()
    assert [d["_id"] for d in docs] == ["ev-1", "ev-2"] and reader.after == 3
    assert db.recent.run(2, 1)[0].get("filler")  # the repeat's number, taken by a filler


async def test_an_unsynced_view_shares_what_was_stored(db):
    synced = Database(db.client, db.db, synced_by_default=True)
    assert synced.unsynced() is not synced and synced.unsynced().recent is synced.recent



def test_the_worker_threads_notification_events_are_left_for_the_evaluators(mongo_uri):
    """`tocsin serve`'s own workers store `notification.*` events with a client of their
    own (service/ledger_store.py); they go into the same `recent` as the ingested ones,
    and a repeat's number into it as a filler."""
    from pymongo import MongoClient

    from service.ledger_store import store_events_sync

    client = MongoClient(mongo_uri, tz_aware=True)
    try:
        sync_db = client[f"recent_{uuid.uuid4().hex[:10]}"]
        recent = RecentEvents()
        now = datetime.now(timezone.utc)
        store_events_sync(sync_db, [ev(1), ev(2)], now, lookup=False, recent=recent)
        store_events_sync(sync_db, [ev(2), ev(3)], now, lookup=False, recent=recent)  # ev-2 again
        run = recent.run(1, 10)
        assert [d["_id"] for d in run] == ["ev-1", "ev-2", "\x00seq:3", "ev-3"]
        assert [d["seq"] for d in run] == [1, 2, 3, 4] and recent.newest == 4
    finally:
        client.close()


async def test_at_a_hole_before_this_processs_events_only_the_other_writers_numbers_are_read(db):
    """The next numbers are another writer's, still being committed, and this process's
    own follow: each look (the evaluator repeats it soon, SeqReader.blocked) reads the
    other writer's numbers alone, not this process's events behind them."""
    reader = SeqReader(db, 0, grace_seconds=3600)
    await db.counters.update_one({"_id": "events"}, {"$inc": {"n": 2}}, upsert=True)  # 1, 2: taken
    await store_events(db, [ev(3), ev(4)], lookup=False)                              # 3, 4: ours
    finds = db.events.finds
    assert await reader.next_batch() == [] and reader.blocked
    assert await reader.next_batch() == [] and reader.blocked
    assert db.events.filters[finds:] == [{"seq": {"$gte": 1, "$lt": 3}}] * 2
    await db.events.insert_many([{"_id": f"w{n}", "seq": n, "event": ev(f"w{n}")} for n in (1, 2)])
    assert [d["_id"] for d in await reader.next_batch()] == ["w1", "w2", "ev-3", "ev-4"]
    assert not reader.blocked and reader.after == 4
