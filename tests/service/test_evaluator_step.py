"""The evaluator alone: explicit collaborators, a ManualClock, one `step()` at a time."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timezone

import pytest

import dsl
from service.clock import ManualClock
from service.db import Database
from service.delivery_bridge import DeliveryBridge
from service.evaluator import Evaluator, EvaluatorSettings
from service.event_store import store_events
from service.lease import Lease
from service.metrics import Metrics
from service.outbox import Outbox
from service.rules_store import ActiveRules
from tests.service.conftest import make_config

RULES = ('webhook "hook" { url "http://127.0.0.1:9/hook" }\n'
         'monitor "slow" when execution.duration >= 3s notify webhook "hook"\n'
         'monitor "failures" when execution.failed notify webhook "hook"\n')
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FixedRules:
    """A rule source that never changes."""

    def __init__(self, files: dict[str, str]) -> None:
        ruleset, diagnostics = dsl.load(files)
        assert ruleset is not None, diagnostics
        self.active = ActiveRules(version=1, files=files, ruleset=ruleset)


@pytest.fixture
async def db(mongo_uri, tmp_path):
    config = make_config(mongo_uri, tmp_path)
    database = Database.connect(mongo_uri, config.mongodb_database)
    await database.ensure_indexes(config.retention_delta)
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def evaluator(db: Database, clock: ManualClock, mongo_uri: str, tmp_path) -> Evaluator:
    """An evaluator on `db`; its deliveries are written to the ledger, never sent (the
    delivery bridge is not started)."""
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    metrics = Metrics()
    return Evaluator(db=db, rules=FixedRules({"main.rules": RULES}), metrics=metrics, clock=clock,
                     settings=EvaluatorSettings.from_config(config),
                     outbox=Outbox(db.unsynced(), DeliveryBridge(config, db, mongo_uri), metrics,
                                   public_url=config.base_url),
                     lease=Lease(db.checkpoints, config.lease_seconds, snapshots=db.snapshots))


def event(event_id: str, kind: str, at: datetime) -> dict:
    """An event of its own execution (a failure ends an execution, and with it its timer)."""
    return {"id": event_id, "type": kind, "time": at.isoformat(), "instance": {"id": "i1"},
            "execution": {"id": f"x-{event_id}"}}


async def fired(db: Database) -> list[str]:
    return sorted([d["monitor"] async for d in db.alert_events.find({"kind": "fired"})])


async def test_a_step_evaluates_what_is_stored_and_fires_the_timers_due_by_its_clock(db, clock, mongo_uri, tmp_path):
    ev = evaluator(db, clock, mongo_uri, tmp_path)
    await store_events(db, [event("s", "execution.started", START), event("f", "execution.failed", START)])
    await ev.step()
    assert await fired(db) == ["failures"]
    clock.advance(2.999)
    await ev.step()
    assert await fired(db) == ["failures"]  # the 3 s timer is not due yet
    clock.advance(0.002)
    await ev.step()
    assert await fired(db) == ["failures", "slow"]
    clock.advance(60)
    await ev.step()
    assert await fired(db) == ["failures", "slow"]
    assert await db.deliveries.count_documents({}) == 2


async def test_a_timer_resumes_from_the_checkpoint_of_a_released_evaluator(db, clock, mongo_uri, tmp_path):
    first = evaluator(db, clock, mongo_uri, tmp_path)
    await store_events(db, [event("s", "execution.started", START)])
    await first.step()
    await first.release()  # writes the checkpoint, timer included, and hands the lease over
    clock.advance(5)
    second = evaluator(db, clock, mongo_uri, tmp_path)
    await second.step()
    assert await fired(db) == ["slow"]
    await second.step()
    assert await fired(db) == ["slow"]


async def test_join_returns_once_the_events_stored_before_it_are_evaluated(db, clock, mongo_uri, tmp_path):
    """The clock never moves: only join()'s wake-up makes the running loop take a round."""
    ev = evaluator(db, clock, mongo_uri, tmp_path)
    loop = asyncio.create_task(ev.run())
    try:
        async with asyncio.timeout(15):
            await ev.join()
            assert await fired(db) == []
            await store_events(db, [event("f", "execution.failed", START)])
            await ev.join()
        assert await fired(db) == ["failures"]
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    await ev.release()


async def test_join_returns_for_an_evaluator_whose_partition_is_another_replicas(db, clock, mongo_uri, tmp_path):
    owner, other = evaluator(db, clock, mongo_uri, tmp_path), evaluator(db, clock, mongo_uri, tmp_path)
    await owner.step()
    loop = asyncio.create_task(other.run())
    try:
        await store_events(db, [event("f", "execution.failed", START)])
        async with asyncio.timeout(15):
            await other.join()
        assert other.lease.held_until is None and not other.owner
        assert await fired(db) == []  # the owner did not step since
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop


async def test_a_round_cut_by_a_shutdown_is_evaluated_again_by_the_next_owner(db, clock, mongo_uri, tmp_path):
    """Cancelled between a round's ledger entries and its alert events (a replica told to
    stop while it writes): `release()` must not write a resume point past those events,
    or the next owner never stores their alert events (nor, cut a step earlier, their
    ledger entries: a page lost)."""
    first = evaluator(db, clock, mongo_uri, tmp_path)
    await first.step()  # owns the partition, checkpoint at seq 0
    await store_events(db, [event("s", "execution.started", START)])
    await first.step()  # evaluated, not yet checkpointed (at most one a second)
    entered, never = asyncio.Event(), asyncio.Event()

    async def stuck(*args, **kwargs):
        entered.set()
        await never.wait()

    first.outbox._insert_alert_events = stuck  # the alert events' write is in flight
    loop = asyncio.create_task(first.run())
    await store_events(db, [event("f", "execution.failed", START)])
    first.wake.set()
    async with asyncio.timeout(15):
        await entered.wait()
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert await db.deliveries.count_documents({}) == 1 and await fired(db) == []
    await first.release()
    second = evaluator(db, clock, mongo_uri, tmp_path)
    await second.step()
    assert await fired(db) == ["failures"]
    assert await db.deliveries.count_documents({}) == 1  # the same entry, not a second one


async def test_a_hole_another_process_fills_is_looked_at_again_well_before_the_tick(db, clock, mongo_uri, tmp_path):
    """Number 1 is another process's (a `tocsin worker`'s `notification.*` events), taken
    and not yet stored; this process's own event, number 2, waits behind it. Nothing
    wakes the loop when the other insert lands: it looks again after HOLE_POLL_SECONDS
    of its clock, not after the 1 s tick."""
    from service.evaluator import HOLE_POLL_SECONDS

    ev = evaluator(db, clock, mongo_uri, tmp_path)
    ev.settings = dataclasses.replace(ev.settings, tick_seconds=1.0)  # the default tick
    await db.counters.update_one({"_id": "events"}, {"$inc": {"n": 1}}, upsert=True)
    await store_events(db, [event("f", "execution.failed", START)], lookup=False)
    loop = asyncio.create_task(ev.run())

    async def rounds_ended(n: int) -> None:
        async with asyncio.timeout(15), ev._round_ended:
            await ev._round_ended.wait_for(lambda: ev._rounds_ended >= n)

    try:
        await rounds_ended(1)
        assert await fired(db) == [] and ev.reader.blocked
        other = event("o", "execution.started", START)
        await db.events.insert_one({"_id": "o", "seq": 1, "time": START, "stored_at": START, "event": other})
        clock.advance(HOLE_POLL_SECONDS)
        await rounds_ended(2)
        assert await fired(db) == ["failures"] and not ev.reader.blocked
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    await ev.release()
