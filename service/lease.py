"""A lease in MongoDB: one evaluator owns a partition of the monitors at a time.

The lease is the `checkpoints` document of its partition (`{_id: "evaluator:all" or
"evaluator:I/N", owner,
expires_at, seq, snapshot, …}`), so the evaluator's resume point can only be written by
the current owner (`write_checkpoint` filters on `owner`). Acquisition is one
`update_one(upsert=True)` whose filter matches only a free, expired or own lease; when
another process holds it, the upsert collides on `_id` and fails: no double owners.

The engine snapshot is stored apart (the `snapshots` collection), zlib-compressed JSON in
chunks of at most 4 MiB (`{_id: "<partition>:<gen>:<i>", kind: "snapshot", partition,
gen, i, data}`): an
alert storm leaves tens of thousands of open alerts (about 1 KB of JSON each), which one
document (16 MiB at most) could not hold. The chunks of a new generation are written
first and the lease document then points at them (owner-filtered), so a crash in
between leaves the previous generation in force; replaced generations are deleted.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import Binary

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

PARTITION = "evaluator:all"
SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, collection: AsyncCollection, seconds: float, *, partition: str = PARTITION,
                 owner: str | None = None, snapshots: AsyncCollection | None = None) -> None:
        self.coll = collection
        self.snapshots = snapshots if snapshots is not None else collection
        self.ttl = timedelta(seconds=seconds)
        self.partition = partition
        self.owner = owner or new_owner_id()
        self.held_until: datetime | None = None
        self.snapshot_gen: str | None = None  # the snapshot generation in force, as last read or written

    async def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; False while another live owner holds it."""
        now = now or datetime.now(timezone.utc)
        free = {"$or": [{"owner": self.owner}, {"owner": None}, {"expires_at": {"$lt": now}}]}
        try:
            await self.coll.update_one(
                {"_id": self.partition, **free},
                {"$set": {"owner": self.owner, "expires_at": now + self.ttl, "renewed_at": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            self.held_until = None
            return False
        self.held_until = now + self.ttl
        return True

    def needs_renewal(self, now: datetime) -> bool:
        return self.held_until is None or self.held_until - now < self.ttl * 2 / 3

    async def release(self) -> None:
        await self.coll.update_one({"_id": self.partition, "owner": self.owner},
                                   {"$set": {"owner": None, "expires_at": None}})
        self.held_until = None

    async def read_checkpoint(self) -> dict[str, Any]:
        return await self.coll.find_one({"_id": self.partition}) or {}

    async def read_snapshot(self, checkpoint: dict[str, Any]) -> dict[str, Any] | None:
        """The engine snapshot `checkpoint` points at (None without one)."""
        gen = self.snapshot_gen = checkpoint.get("snapshot_gen")
        if gen is None:
            legacy = checkpoint.get("snapshot")  # a JSON text in the lease document itself
            return json.loads(legacy) if legacy else None
        chunks = [d async for d in self.snapshots.find({"kind": "snapshot", "partition": self.partition, "gen": gen})]
        chunks.sort(key=lambda d: d["i"])
        if len(chunks) != checkpoint.get("snapshot_chunks"):
            raise RuntimeError(f"snapshot {gen} of {self.partition} is incomplete")
        return json.loads(zlib.decompress(b"".join(bytes(d["data"]) for d in chunks)))

    async def write_checkpoint(self, fields: dict[str, Any], snapshot: dict[str, Any] | None = None) -> bool:
        """Store the resume point (and the engine snapshot) if we still own the lease;
        False if we lost it."""
        gen = None
        if snapshot is not None:
            gen = uuid.uuid4().hex[:16]
            blob = zlib.compress(json.dumps(snapshot, separators=(",", ":")).encode(), 1)
            parts = [blob[i:i + SNAPSHOT_CHUNK_BYTES] for i in range(0, len(blob), SNAPSHOT_CHUNK_BYTES)]
            now = datetime.now(timezone.utc)
            await self.snapshots.insert_many([
                {"_id": f"{self.partition}:{gen}:{i}", "kind": "snapshot", "partition": self.partition,
                 "gen": gen, "i": i, "at": now, "data": Binary(part)} for i, part in enumerate(parts)])
            fields = {**fields, "snapshot_gen": gen, "snapshot_chunks": len(parts)}
        result = await self.coll.update_one({"_id": self.partition, "owner": self.owner},
                                            {"$set": fields, "$unset": {"snapshot": ""}})
        owned = result.matched_count == 1
        if gen is not None:
            stale, self.snapshot_gen = (self.snapshot_gen, gen) if owned else (gen, self.snapshot_gen)
            if stale is not None:
                await self.snapshots.delete_many({"kind": "snapshot", "partition": self.partition, "gen": stale})
        return owned
