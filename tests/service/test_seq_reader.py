"""The commit-order reader: grace for holes, skipped numbers re-checked, then given up."""

from __future__ import annotations

import uuid

import pytest

from service.db import Database
from service.seq_reader import SeqReader


@pytest.fixture
async def db(mongo_uri):
    database = Database.connect(mongo_uri, f"seq_{uuid.uuid4().hex[:10]}")
    yield database
    await database.close()


def ids(docs: list[dict]) -> list[str]:
    return [d["_id"] for d in docs]


async def test_reader_waits_for_a_gap_then_steps_over_it(db):
    clock = [0.0]
    reader = SeqReader(db, 0, grace_seconds=5, clock=lambda: clock[0])
    await db.events.insert_many([{"_id": "a", "seq": 1}, {"_id": "c", "seq": 3}])
    assert ids(await reader.next_batch()) == ["a"]
    assert await reader.next_batch() == []  # seq 2 may still be committing
    await db.events.insert_one({"_id": "b", "seq": 2})
    assert ids(await reader.next_batch()) == ["b", "c"]
    await db.events.insert_one({"_id": "e", "seq": 5})
    assert await reader.next_batch() == []
    clock[0] = 6.0  # seq 4 is still missing after the grace: step over it
    assert ids(await reader.next_batch()) == ["e"]
    assert reader.skipped == {4: 6.0}


async def test_a_late_commit_is_read_exactly_once(db):
    clock = [0.0]
    reader = SeqReader(db, 0, grace_seconds=1, recheck_seconds=600, clock=lambda: clock[0])
    await db.events.insert_many([{"_id": "a", "seq": 1}, {"_id": "d", "seq": 4}])
    assert ids(await reader.next_batch()) == ["a"]
    clock[0] = 2.0
    assert ids(await reader.next_batch()) == ["d"]
    assert sorted(reader.skipped) == [2, 3]
    clock[0] = 300.0
    await db.events.insert_many([{"_id": "c", "seq": 3}, {"_id": "e", "seq": 5}])
    assert ids(await reader.next_batch()) == ["c", "e"]  # the late one first, then the run
    assert sorted(reader.skipped) == [2]
    assert await reader.next_batch() == []
    assert reader.after == 5


async def test_skipped_numbers_are_given_up_after_the_recheck_time(db):
    clock = [0.0]
    reader = SeqReader(db, 0, grace_seconds=0, recheck_seconds=600, clock=lambda: clock[0])
    await db.events.insert_one({"_id": "b", "seq": 2})
    assert ids(await reader.next_batch()) == ["b"]
    assert sorted(reader.skipped) == [1]
    clock[0] = 601.0
    await db.events.insert_one({"_id": "a", "seq": 1})
    assert await reader.next_batch() == []  # too late: given up (documented limit)
    assert reader.skipped == {}


async def test_skipped_numbers_survive_a_checkpoint(db):
    clock = [10.0]
    reader = SeqReader(db, 0, grace_seconds=0, clock=lambda: clock[0])
    await db.events.insert_one({"_id": "c", "seq": 3})
    assert ids(await reader.next_batch()) == ["c"]
    state = reader.state()
    assert state == {"seq": 3, "skipped": [[1, 10.0], [2, 10.0]]}
    resumed = SeqReader.from_checkpoint(db, state, grace_seconds=0, recheck_seconds=600, clock=lambda: clock[0])
    await db.events.insert_one({"_id": "b", "seq": 2})
    assert ids(await resumed.next_batch()) == ["b"]
    assert resumed.state() == {"seq": 3, "skipped": [[1, 10.0]]}
    assert SeqReader.from_checkpoint(db, {}, grace_seconds=0).state() == {"seq": 0, "skipped": []}


async def test_a_batch_is_a_bounded_window_of_numbers(db):
    reader = SeqReader(db, 0, grace_seconds=5)
    await db.events.insert_many([{"_id": f"e{i}", "seq": i} for i in range(1, 6)])
    assert ids(await reader.next_batch(limit=2)) == ["e1", "e2"]
    assert ids(await reader.next_batch(limit=2)) == ["e3", "e4"]
    assert ids(await reader.next_batch(limit=2)) == ["e5"]


async def test_a_hole_longer_than_a_batch_is_found_through_the_counter_and_stepped_over(db):
    """Numbers 2..9 were handed out (the counter says 10) and never committed: the window
    after 1 is empty, the reader looks past it, waits out the grace, then steps over."""
    clock = [0.0]
    reader = SeqReader(db, 0, grace_seconds=5, clock=lambda: clock[0])
    await db.counters.update_one({"_id": "events"}, {"$set": {"n": 10}}, upsert=True)
    await db.events.insert_many([{"_id": "a", "seq": 1}, {"_id": "j", "seq": 10}])
    assert ids(await reader.next_batch(limit=3)) == ["a"]
    assert await reader.next_batch(limit=3) == []  # 2..9 may still be committing
    clock[0] = 6.0
    assert ids(await reader.next_batch(limit=3)) == ["j"]
    assert sorted(reader.skipped) == list(range(2, 10))
    assert await reader.next_batch(limit=3) == []
