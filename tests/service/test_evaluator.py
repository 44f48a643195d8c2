"""The evaluator: one owner per database, resume after restart, hot reload, commit order."""

from __future__ import annotations

import asyncio

import pytest

from service.app import create_app
from service.clock import ManualClock
from service.db import Database
from service.lease import Lease
from tests.service.conftest import make_config
from tests.service.receiver import Receiver
from tests.service.server import running
from tests.support.waiting import deliveries_settled, evaluated, eventually

DURATION_RULES = ('webhook "hook" {{ url "{url}" }}\n'
                  'monitor "slow" when execution.duration >= 3s notify webhook "hook"\n')


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


async def wait_until(predicate, timeout: float = 15.0) -> None:
    await eventually(predicate, timeout)


async def test_two_evaluators_on_one_database_fire_once(mongo_uri, tmp_path, receiver):
    first = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(
        f'webhook "hook" {{ url "{receiver.url}" }}\nmonitor "f" when execution.failed notify webhook "hook"\n')
    apps = create_app(first), create_app(first.model_copy())
    db = Database.connect(mongo_uri, first.mongodb_database)
    async with running(apps[0]) as a, running(apps[1]) as b:
        events = [{"id": f"e{i}", "type": "execution.failed", "instance": {"id": f"i{i}"}} for i in range(4)]
        await a.post("/v1/events", json=events[:2])
        await b.post("/v1/events", json=events[2:])
        assert await asyncio.to_thread(receiver.wait_for, 4)
        await evaluated(*apps)  # both evaluators had a round after the last event
        await wait_until(lambda: deliveries_settled(db))
        assert await db.deliveries.count_documents({}) == 4
        assert receiver.count == 4
        assert len((await a.get("/v1/alerts")).json()["items"]) == 4
    await db.close()


async def test_timer_survives_a_restart_and_fires_once(mongo_uri, tmp_path, receiver):
    """The 3 s timer is driven by the evaluators' clock, which only the test moves."""
    config = make_config(mongo_uri, tmp_path, evaluator=True, lease_seconds=1.0)
    (tmp_path / "rules" / "main.rules").write_text(DURATION_RULES.format(url=receiver.url))
    db = Database.connect(mongo_uri, config.mongodb_database)
    clock = ManualClock()
    app = create_app(config, clock=clock)
    async with running(app) as client:
        started = {"id": "s1", "type": "execution.started", "instance": {"id": "i1"}, "execution": {"id": "x1"},
                   "time": clock.now().isoformat()}
        assert (await client.post("/v1/events", json=started)).status_code == 202
        await evaluated(app)
        clock.advance(2.9)  # not yet due
        await evaluated(app)

        async def checkpointed():
            doc = await db.checkpoints.find_one({"_id": "evaluator:all"})
            return bool(doc and doc.get("seq", 0) >= 1)

        await wait_until(checkpointed)
    assert await db.alert_events.count_documents({}) == 0  # stopped before the timer was due
    again = create_app(config.model_copy(), clock=clock)
    async with running(again):
        await wait_until(lambda: _owned(db))
        await evaluated(again)  # restored from the checkpoint, timer included
        assert await db.alert_events.count_documents({}) == 0
        clock.advance(0.2)  # due now
        await evaluated(again)
        await wait_until(lambda: _fired(db, 1))
        assert await asyncio.to_thread(receiver.wait_for, 1)
        for _ in range(3):  # later rounds, well past the deadline: nothing fires again
            clock.advance(5.0)
            await evaluated(again)
        await wait_until(lambda: deliveries_settled(db))
        assert await _fired(db, 1)
    assert receiver.count == 1
    await db.close()


async def _owned(db: Database) -> bool:
    doc = await db.checkpoints.find_one({"_id": "evaluator:all"})
    return bool(doc and doc.get("owner"))


async def _fired(db: Database, n: int) -> bool:
    return await db.alert_events.count_documents({"kind": "fired"}) == n


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


FAILED_RULES = 'webhook "hook" {{ url "{url}" }}\nmonitor "f" when execution.failed notify webhook "hook"\n'


def failed(n: int) -> dict:
    return {"id": f"e{n}", "type": "execution.failed", "instance": {"id": f"i{n}"}}


async def _reserve_seq(db: Database) -> int:
    """Take a sequence number the way a request does before its insert (which we delay)."""
    doc = await db.counters.find_one_and_update({"_id": "events"}, {"$inc": {"n": 1}}, return_document=True)
    return doc["n"]


async def _commit_late(db: Database, seq: int, event: dict) -> None:
    from datetime import datetime, timezone

    from engine.model import rfc3339

    now = datetime.now(timezone.utc)
    await db.events.insert_one({"_id": event["id"], "seq": seq, "time": now, "stored_at": now,
                                "event": {**event, "time": rfc3339(now)}})


async def _skipped(db: Database) -> list:
    doc = await db.checkpoints.find_one({"_id": "evaluator:all"}) or {}
    return [seq for seq, _ in doc.get("skipped") or ()]


async def test_an_event_committed_after_the_gap_grace_is_evaluated_once(mongo_uri, tmp_path, receiver):
    config = make_config(mongo_uri, tmp_path, evaluator=True, gap_grace_seconds=0.3)
    (tmp_path / "rules" / "main.rules").write_text(FAILED_RULES.format(url=receiver.url))
    db = Database.connect(mongo_uri, config.mongodb_database)
    app = create_app(config)
    async with running(app) as client:
        await client.post("/v1/events", json=failed(1))
        assert await asyncio.to_thread(receiver.wait_for, 1)
        slow = await _reserve_seq(db)  # a request whose insert has not committed yet
        await client.post("/v1/events", json=failed(3))
        assert await asyncio.to_thread(receiver.wait_for, 2)  # stepped over the hole after the grace

        async def hole_watched():
            return await _skipped(db) == [slow]

        await wait_until(hole_watched)
        await _commit_late(db, slow, failed(2))
        assert await asyncio.to_thread(receiver.wait_for, 3)
        await wait_until(lambda: _no_skipped(db))
        await evaluated(app)  # another round after the late event: nothing is evaluated twice
        await wait_until(lambda: deliveries_settled(db))
        assert await db.alert_events.count_documents({}) == 3
        assert receiver.count == 3
        assert sorted(a["key"]["instance"] for a in (await client.get("/v1/alerts")).json()["items"]) == \
            ["i1", "i2", "i3"]
    await db.close()


async def _no_skipped(db: Database) -> bool:
    return await _skipped(db) == []


async def test_skipped_numbers_are_watched_across_a_restart(mongo_uri, tmp_path, receiver):
    config = make_config(mongo_uri, tmp_path, evaluator=True, gap_grace_seconds=0.3, lease_seconds=1.0)
    (tmp_path / "rules" / "main.rules").write_text(FAILED_RULES.format(url=receiver.url))
    db = Database.connect(mongo_uri, config.mongodb_database)
    async with running(create_app(config)) as client:
        slow = await _reserve_seq(db)
        await client.post("/v1/events", json=failed(2))
        assert await asyncio.to_thread(receiver.wait_for, 1)

        async def hole_watched():
            return await _skipped(db) == [slow]

        await wait_until(hole_watched)
    await _commit_late(db, slow, failed(1))  # commits while no evaluator runs
    again = create_app(config.model_copy())
    async with running(again):
        assert await asyncio.to_thread(receiver.wait_for, 2)
        await wait_until(lambda: _no_skipped(db))
        await evaluated(again)
        await wait_until(lambda: deliveries_settled(db))
        assert await db.alert_events.count_documents({}) == 2
    assert receiver.count == 2
    await db.close()


async def test_a_database_failure_pauses_the_evaluator_which_resumes_and_quarantines_nothing(
        mongo_uri, tmp_path, receiver, monkeypatch, caplog):
    """Only storage failures fail a round (the monitor's output was fine): the evaluator
    rebuilds from its checkpoint and the same alert event is delivered once."""
    import logging

    from pymongo.errors import AutoReconnect

    from service.outbox import Outbox

    caplog.set_level(logging.INFO, logger="tocsin")
    record, failures = Outbox.record, []

    async def flaky(self, alert_events, ruleset, changed=()):
        if alert_events and not failures:
            failures.append(alert_events)
            raise AutoReconnect("connection reset by peer")
        return await record(self, alert_events, ruleset, changed)

    monkeypatch.setattr(Outbox, "record", flaky)
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(FAILED_RULES.format(url=receiver.url))
    async with running(create_app(config)) as client:
        await client.post("/v1/events", json=failed(1))
        assert await asyncio.to_thread(receiver.wait_for, 1)
        monitors = (await client.get("/v1/monitors")).json()["items"]
        assert [(m["name"], m["status"]) for m in monitors] == [("f", "firing")]  # not quarantined: the database failed, not the monitor
    assert failures  # the round did fail once
    assert receiver.count == 1
    assert [r for r in caplog.records if "evaluation step failed" in r.getMessage()]
    assert not [r for r in caplog.records if "quarantined" in r.getMessage()]
