"""The reconciler wakes due ledger entries, but not those this process still holds."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

from dramatiq import Message

from delivery.actors import ACTOR_NAME, binding
from delivery.ledger import birth_claim, new_entry
from service.db import Database
from delivery.worker import make_broker, oldest_queued
from service.delivery_bridge import DeliveryBridge
from tests.delivery.test_ledger import _request
from tests.service.conftest import make_config
from tests.support.rabbitmq import require_rabbitmq_url, unique_queue


async def test_due_entries_are_woken_except_those_queued_or_unrecorded_here(mongo_uri, tmp_path):
    config = make_config(mongo_uri, tmp_path)
    db = Database.connect(mongo_uri, config.mongodb_database)
    bridge = DeliveryBridge(config, db, mongo_uri)
    await bridge.start()
    bridge._reconciler.cancel()  # this test runs the rounds itself
    with contextlib.suppress(asyncio.CancelledError):
        await bridge._reconciler
    try:
        past = datetime.now(timezone.utc) - timedelta(minutes=5)
        lost, queued, unrecorded = (_request(url="http://127.0.0.1:9/hook", n=n) for n in range(3))
        await db.deliveries.insert_many([new_entry(r, past, wake_grace=1.0) for r in (lost, queued, unrecorded)])
        woken: list[str] = []
        bridge.wake = lambda ids, claims=(), requests=(): woken.extend(ids)  # what would go to the workers
        b = binding()
        with b._lock:
            b.prepared[queued.id] = None  # waiting in the local queue with its birth claim
        with bridge.ledger._lock:
            bridge.ledger._unwritten.add(unrecorded.id)  # sent; its outcome still queued
        try:
            assert await bridge.reconcile() == 1
            assert bridge.held_seen == 2  # the loop waits a wake-up's grace before looking again
        finally:
            with b._lock:
                b.prepared.pop(queued.id, None)
            with bridge.ledger._lock:
                bridge.ledger._unwritten.discard(unrecorded.id)
        assert woken == [lost.id]
        due = {d["_id"]: d["due_at"] async for d in db.deliveries.find({}, {"due_at": 1})}
        assert due[lost.id] > datetime.now(timezone.utc)  # marked woken: its grace restarts
        assert due[queued.id] < datetime.now(timezone.utc) and due[unrecorded.id] < datetime.now(timezone.utc)
    finally:
        await bridge.stop()
        await db.close()


def _head(broker, queue: str, sent_at: datetime) -> None:
    """A wake-up sent at `sent_at`, waiting at the head of `queue`."""
    broker.enqueue(Message(queue_name=queue, actor_name=ACTOR_NAME, args=("dlv_head",), kwargs={}, options={},
                           message_timestamp=int(sent_at.timestamp() * 1000)))


async def test_a_never_attempted_entry_whose_wake_up_still_waits_in_the_broker_is_not_woken_again(
        mongo_uri, tmp_path, redis_url):
    """`tocsin worker` processes behind a backlog: an entry woken after the oldest wake-up
    the queue still holds has its wake-up in the queue; one woken before it lost its
    wake-up (or its claim failed), and a retry or an expired claim is woken in any case."""
    queue = unique_queue()
    config = make_config(mongo_uri, tmp_path, redis_url=redis_url, delivery_queue=queue,
                         delivery_wake_grace_seconds=1.0)
    db = Database.connect(mongo_uri, config.mongodb_database)
    bridge = DeliveryBridge(config, db, mongo_uri)
    await bridge.start()
    bridge._reconciler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await bridge._reconciler
    try:
        now = datetime.now(timezone.utc)
        lost, queued, retry, born_queued, born_lost = (_request(url="http://127.0.0.1:9/hook", n=n) for n in range(5))
        entries = [new_entry(lost, now - timedelta(minutes=10), wake_grace=1.0),
                   new_entry(queued, now - timedelta(seconds=3), wake_grace=1.0),
                   new_entry(retry, now - timedelta(seconds=3), wake_grace=1.0)]
        entries[2]["first_attempt_at"] = now - timedelta(seconds=4)  # attempt 1 failed: a retry is due
        # Born claimed for Redis workers, their birth leases over: one born after the queue's
        # head (its wake-up waits behind it), one long before (lost)
        for request, born in ((born_queued, now - timedelta(minutes=2)), (born_lost, now - timedelta(minutes=10))):
            entries.append(new_entry(request, born, wake_grace=1.0,
                                     claim=birth_claim(request, "born-token", born, 1.0)))
        await db.deliveries.insert_many(entries)
        _head(bridge.broker, queue, now - timedelta(minutes=5))
        woken: list[str] = []
        bridge.wake = lambda ids, claims=(), requests=(): woken.extend(ids)
        assert await bridge.reconcile() == 3
        assert sorted(woken) == sorted([lost.id, retry.id, born_lost.id]) and bridge.held_seen == 2
        bridge.broker.flush(queue)  # the broker restarted empty: the queued wake-ups are lost too
        woken.clear()
        assert await bridge.reconcile() == 2 and sorted(woken) == sorted([queued.id, born_queued.id])
    finally:
        with contextlib.suppress(Exception):
            bridge.broker.flush(queue)
        await bridge.stop()
        await db.close()


def test_the_oldest_queued_wake_up_of_each_broker(redis_url):
    sent = datetime.now(timezone.utc) - timedelta(seconds=42)
    redis = make_broker(redis_url)
    queue = unique_queue()
    try:
        redis.declare_queue(queue)
        assert oldest_queued(redis, queue, default_age=30.0) is None
        _head(redis, queue, sent)
        _head(redis, queue, sent + timedelta(seconds=10))
        assert abs((oldest_queued(redis, queue, default_age=30.0) - sent).total_seconds()) < 0.01
    finally:
        redis.flush(queue)
        redis.close()
    rabbit = make_broker(require_rabbitmq_url())
    try:
        rabbit.declare_queue(queue)
        assert oldest_queued(rabbit, queue, default_age=30.0) is None
        _head(rabbit, queue, sent)
        head = oldest_queued(rabbit, queue, default_age=30.0)  # it cannot peek: a grace-based age
        assert head is not None and 29 < (datetime.now(timezone.utc) - head).total_seconds() < 40
    finally:
        with contextlib.suppress(Exception):
            rabbit.channel.queue_delete(queue)
            rabbit.channel.queue_delete(f"{queue}.DQ")
            rabbit.channel.queue_delete(f"{queue}.XQ")
        rabbit.close()
