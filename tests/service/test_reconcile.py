"""The reconciler wakes due ledger entries, but not those this process still holds."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

from delivery.actors import binding
from delivery.ledger import new_entry
from service.db import Database
from service.delivery_bridge import DeliveryBridge
from tests.delivery.test_ledger import _request
from tests.service.conftest import make_config


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
        bridge.wake = lambda ids, claims=(): woken.extend(ids)  # what would go to the workers
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
