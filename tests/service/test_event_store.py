"""The event store's group commit: concurrent callers share writes, results stay per caller."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest

from service.db import Database
from service.event_store import EventWriter, store_events
from service.seq_reader import SeqReader


def ev(i: int | str) -> dict:
    return {"id": f"ev-{i}", "type": "execution.failed", "time": "2026-01-02T03:04:05.000Z"}


class CountingEvents:
    """The events collection, counting `insert_many` calls (the writes that were made)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.inserts: list[int] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def insert_many(self, docs, **kwargs):
        self.inserts.append(len(docs))
        await asyncio.sleep(0.01)  # a slow database: callers pile up behind the write
        return await self.inner.insert_many(docs, **kwargs)


class CountingDatabase(Database):
    @property
    def events(self):
        if not hasattr(self, "_counting"):
            self._counting = CountingEvents(self.db["events"])
        return self._counting


@pytest.fixture
async def db(mongo_uri):
    base = Database.connect(mongo_uri, f"es_{uuid.uuid4().hex[:12]}")
    counting = CountingDatabase(base.client, base.db)
    await counting.ensure_indexes(timedelta(days=1))
    yield counting
    await base.client.drop_database(base.db.name)
    await base.close()


async def stored(db: Database) -> list[tuple[int, str]]:
    return [(d["seq"], d["_id"]) async for d in db.db["events"].find({}).sort("seq", 1)]


async def test_concurrent_callers_share_writes_and_keep_their_own_results(db):
    writer = EventWriter(db)
    batches = [[ev(i)] for i in range(10)] + [[ev(3), ev("x"), ev("x")]]
    results = await asyncio.gather(*(writer.store(b) for b in batches))
    assert results[:10] == [([f"ev-{i}"], 0) for i in range(10)]
    assert results[10] == (["ev-3", "ev-x", "ev-x"], 2)  # ev-3 by an earlier caller, ev-x twice
    assert len(db.events.inserts) < len(batches)  # grouped: fewer writes than callers
    rows = await stored(db)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))  # one process: no gaps
    events = [i for _, i in rows if not i.startswith("\x00")]
    assert sorted(events) == sorted([f"ev-{i}" for i in range(10)] + ["ev-x"])
    assert len(rows) - len(events) <= 1  # ev-3's repeat, if it came in a later group: a filler


async def test_a_group_is_capped_but_a_large_request_is_never_split(db):
    writer = EventWriter(db, max_events=3)
    big, small = [ev(f"b{i}") for i in range(5)], [[ev(f"s{i}")] for i in range(4)]
    results = await asyncio.gather(writer.store(big), *(writer.store(b) for b in small))
    assert results[0] == ([e["id"] for e in big], 0)
    assert db.events.inserts[0] == 5 and all(n <= 3 for n in db.events.inserts[1:])
    assert len(await stored(db)) == 9


async def test_a_repeat_is_a_duplicate_and_its_number_is_filled_for_the_reader_to_step_over(db):
    """No lookup before the write: the unique `_id` refuses the repeat, and a filler takes
    the number it was given, so the evaluator does not wait out a gap."""
    assert await store_events(db, [ev(1), ev(2)]) == (["ev-1", "ev-2"], 0)
    writer = EventWriter(db)
    assert await writer.store([ev(2), ev(3)], now=datetime.now().astimezone()) == (["ev-2", "ev-3"], 1)
    assert await stored(db) == [(1, "ev-1"), (2, "ev-2"), (3, "\x00seq:3"), (4, "ev-3")]
    reader = SeqReader(db, 0, grace_seconds=3600)  # a gap would hold ev-3 back for an hour
    assert [d["_id"] for d in await reader.next_batch()] == ["ev-1", "ev-2", "ev-3"]
    assert reader.after == 4 and not reader.skipped


async def test_with_lookup_known_ids_take_no_sequence_number(db):
    assert await store_events(db, [ev(1), ev(2)]) == (["ev-1", "ev-2"], 0)
    assert await store_events(db, [ev(2), ev(3)], lookup=True) == (["ev-2", "ev-3"], 1)
    assert await stored(db) == [(1, "ev-1"), (2, "ev-2"), (3, "ev-3")]


async def test_a_database_failure_reaches_every_caller_of_the_group(db, monkeypatch):
    writer = EventWriter(db)

    async def broken(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(db.events, "insert_many", broken)
    outcomes = await asyncio.gather(writer.store([ev(1)]), writer.store([ev(2)]), return_exceptions=True)
    assert [str(o) for o in outcomes] == ["database down", "database down"]
    monkeypatch.undo()
    assert await writer.store([ev(1)]) == (["ev-1"], 0)  # the writer goes on afterwards


async def test_a_cancelled_caller_does_not_stop_the_others(db):
    writer = EventWriter(db)
    first = asyncio.create_task(writer.store([ev(1)]))
    second = asyncio.create_task(writer.store([ev(2)]))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == (["ev-2"], 0)
    assert {i for _, i in await stored(db)} >= {"ev-2"}
