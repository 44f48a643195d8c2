"""The evaluator: one owner per database, resume after restart, hot reload, commit order."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.app import create_app
from service.db import Database
from service.event_store import SeqReader
from service.lease import Lease
from tests.service.conftest import make_config
from tests.service.receiver import Receiver
from tests.service.server import running

DURATION_RULES = ('webhook "hook" {{ url "{url}" }}\n'
                  'monitor "slow" when execution.duration >= 3s notify webhook "hook"\n')


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


async def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_two_evaluators_on_one_database_fire_once(mongo_uri, tmp_path, receiver):
    first = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(
        f'webhook "hook" {{ url "{receiver.url}" }}\nmonitor "f" when execution.failed notify webhook "hook"\n')
    second = first.model_copy()
    async with running(create_app(first)) as a, running(create_app(second)) as b:
        events = [{"id": f"e{i}", "type": "execution.failed", "instance": {"id": f"i{i}"}} for i in range(4)]
        await a.post("/v1/events", json=events[:2])
        await b.post("/v1/events", json=events[2:])
        assert await asyncio.to_thread(receiver.wait_for, 4)
        await asyncio.sleep(1.5)  # both evaluators had several rounds to misbehave
        assert receiver.count == 4
        assert len((await a.get("/v1/alerts")).json()["items"]) == 4


async def test_timer_survives_a_restart_and_fires_once(mongo_uri, tmp_path, receiver):
    config = make_config(mongo_uri, tmp_path, evaluator=True, lease_seconds=1.0)
    (tmp_path / "rules" / "main.rules").write_text(DURATION_RULES.format(url=receiver.url))
    db = Database.connect(mongo_uri, config.mongodb_database)
    async with running(create_app(config)) as client:
        await client.post("/v1/events", json={"id": "s1", "type": "execution.started", "instance": {"id": "i1"},
                                              "execution": {"id": "x1"}})

        async def checkpointed():
            doc = await db.checkpoints.find_one({"_id": "evaluator:all"})
            return bool(doc and doc.get("seq", 0) >= 1)

        await wait_until(checkpointed)
    assert receiver.count == 0  # stopped before the 3 s timer was due
    async with running(create_app(config.model_copy())):
        assert await asyncio.to_thread(receiver.wait_for, 1)
        await asyncio.sleep(1.0)
    assert receiver.count == 1
    await db.close()


async def test_hot_reload_from_the_watched_directory_keeps_the_old_set_on_errors(mongo_uri, tmp_path):
    config = make_config(mongo_uri, tmp_path, watch_rules=True)
    rules = tmp_path / "rules"
    (rules / "main.rules").write_text('monitor "a" when execution.failed notify email "ana@example.com"\n')
    async with running(create_app(config)) as client:
        (rules / "main.rules").write_text('monitor "a" when execution.failed notify group "Nobody"\n')

        async def failed_reload():
            return (await client.get("/v1/rules")).json()["last_reload"]["ok"] is False

        await wait_until(failed_reload)
        assert (await client.get("/v1/rules")).json()["version"] == 1
        (rules / "main.rules").write_text('monitor "b" when execution.failed notify email "ana@example.com"\n')

        async def version_two():
            return (await client.get("/v1/rules")).json()["version"] == 2

        await wait_until(version_two)
        assert [m["name"] for m in (await client.get("/v1/monitors")).json()["items"]] == ["b"]


async def test_lease_has_one_owner_until_it_expires(mongo_uri):
    from datetime import datetime, timedelta, timezone

    db = Database.connect(mongo_uri, "lease_test")
    await db.checkpoints.delete_many({})
    a, b = Lease(db.checkpoints, 10, owner="a"), Lease(db.checkpoints, 10, owner="b")
    now = datetime.now(timezone.utc)
    assert await a.acquire(now) is True
    assert await b.acquire(now) is False
    assert await a.acquire(now + timedelta(seconds=5)) is True  # renewal
    assert await b.write_checkpoint({"seq": 9}) is False
    assert await b.acquire(now + timedelta(seconds=16)) is True  # a's lease ran out
    assert await a.write_checkpoint({"seq": 9}) is False
    await b.release()
    assert await a.acquire(now + timedelta(seconds=17)) is True
    await db.close()


async def test_reader_waits_for_a_gap_then_steps_over_it(mongo_uri):
    db = Database.connect(mongo_uri, "gap_test")
    await db.events.delete_many({})
    clock = [0.0]
    reader = SeqReader(db, 0, grace_seconds=5, clock=lambda: clock[0])
    await db.events.insert_many([{"_id": "a", "seq": 1}, {"_id": "c", "seq": 3}])
    assert [d["_id"] for d in await reader.next_batch()] == ["a"]
    assert await reader.next_batch() == []  # seq 2 may still be committing
    await db.events.insert_one({"_id": "b", "seq": 2})
    assert [d["_id"] for d in await reader.next_batch()] == ["b", "c"]
    await db.events.insert_one({"_id": "e", "seq": 5})
    assert await reader.next_batch() == []
    clock[0] = 6.0  # seq 4 never came (a failed insert): step over it
    assert [d["_id"] for d in await reader.next_batch()] == ["e"]
    await db.close()
