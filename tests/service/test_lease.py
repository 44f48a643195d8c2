"""Checkpoints: an engine snapshot larger than one document round-trips in chunks, and a
writer that lost the lease changes nothing."""

from __future__ import annotations

import uuid

from service import lease as lease_module
from service.db import Database
from service.lease import Lease


def _snapshot(n: int) -> dict:
    # Incompressible enough that it needs several chunks at the test's chunk size.
    return {"alerts": {f"a{i}": uuid.uuid4().hex * 4 for i in range(n)}}


async def test_a_large_snapshot_round_trips_in_chunks_and_old_generations_go(mongo_uri, monkeypatch):
    monkeypatch.setattr(lease_module, "SNAPSHOT_CHUNK_BYTES", 4096)
    db = Database.connect(mongo_uri, f"t_{uuid.uuid4().hex[:12]}")
    try:
        owner = Lease(db.checkpoints, 10, snapshots=db.snapshots)
        assert await owner.acquire()
        first, second = _snapshot(300), _snapshot(200)
        assert await owner.write_checkpoint({"seq": 1}, first)
        assert await owner.write_checkpoint({"seq": 2}, second)
        assert await db.snapshots.count_documents({}) == await db.snapshots.count_documents(
            {"gen": owner.snapshot_gen}) > 1  # several chunks, only the generation in force

        reader = Lease(db.checkpoints, 10, snapshots=db.snapshots)
        checkpoint = await reader.read_checkpoint()
        assert checkpoint["seq"] == 2
        assert await reader.read_snapshot(checkpoint) == second
    finally:
        await db.close()


async def test_a_writer_that_lost_the_lease_leaves_the_snapshot_in_force(mongo_uri):
    db = Database.connect(mongo_uri, f"t_{uuid.uuid4().hex[:12]}")
    try:
        owner = Lease(db.checkpoints, 10, snapshots=db.snapshots)
        stale = Lease(db.checkpoints, 10, snapshots=db.snapshots)
        assert await owner.acquire()
        assert await owner.write_checkpoint({"seq": 5}, {"v": "owner"})
        assert await stale.write_checkpoint({"seq": 9}, {"v": "stale"}) is False
        checkpoint = await stale.read_checkpoint()
        assert checkpoint["seq"] == 5
        assert await stale.read_snapshot(checkpoint) == {"v": "owner"}
        assert await db.snapshots.count_documents({}) == 1  # the stale writer's chunks are gone
    finally:
        await db.close()
