"""A lease in MongoDB: one evaluator owns a partition of the monitors at a time.

The lease is the `checkpoints` document of its partition (`{_id: "evaluator:all" or
"evaluator:I/N", owner,
expires_at, seq, snapshot, …}`), so the evaluator's resume point can only be written by
the current owner (`write_checkpoint` filters on `owner`). Acquisition is one
`update_one(upsert=True)` whose filter matches only a free, expired or own lease; when
another process holds it, the upsert collides on `_id` and fails: no double owners.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

PARTITION = "evaluator:all"


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, collection: AsyncCollection, seconds: float, *, partition: str = PARTITION,
                 owner: str | None = None) -> None:
        self.coll = collection
        self.ttl = timedelta(seconds=seconds)
        self.partition = partition
        self.owner = owner or new_owner_id()
        self.held_until: datetime | None = None

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

    async def write_checkpoint(self, fields: dict[str, Any]) -> bool:
        """Store the resume point if we still own the lease; False if we lost it."""
        result = await self.coll.update_one({"_id": self.partition, "owner": self.owner}, {"$set": fields})
        return result.matched_count == 1
