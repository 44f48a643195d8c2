"""Evaluator replicas on the database: heartbeats, one partition count, who owns what.

    membership = Membership(db.db["members"], db.checkpoints, replica_id, count=4, lease_seconds=10)
    await membership.join()          # PartitionCountMismatch if live replicas use another count
    await membership.heartbeat()     # every tick: stay alive, read the others, re-assign
    membership.wants(2)              # is partition 2 this replica's to evaluate?
    await membership.leave()         # on a clean stop: the others re-assign at once

The `members` collection holds `{_id: "cluster", partitions: N}` (the count, stored by
the first replica) and one `{_id: <replica id>, started_at, heartbeat_at, partitions}`
per evaluating replica. The replica id is also the owner written in each partition's
lease (service/lease.py), so the leases say who holds what.

A replica is live while its heartbeat is younger than `TOCSIN_LEASE_SECONDS`; each one
computes `partitions.assign(live replicas, count, current lease owners)` from its own
reads, evaluates the partitions assigned to it and hands over (checkpoint, release) those
assigned to another. Two replicas reading at different moments may disagree for a round;
the leases keep that safe (a partition has one owner at a time, a takeover waits for the
release or the expiry) and `assign` being a fixed point makes the views converge.

Failure modes:
- A replica killed -9 stops heartbeating and renewing: within one lease period its
  leases expire and it drops out of the live set, so the others take its partitions.
- Clocks: liveness compares one replica's written time with another's clock, as the
  leases already do; skew between replicas must stay well under the lease period.
- Two replicas started at the same moment with different counts both register; each
  then checks again, and the later one (by start time, then id) refuses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from engine.times import rfc3339
from service.partitions import assign, lease_index

log = logging.getLogger("tocsin.membership")

CLUSTER = "cluster"  # the `members` document holding the partition count


class PartitionCountMismatch(RuntimeError):
    """This replica's TOCSIN_EVALUATOR_PARTITIONS differs from the live replicas'."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    started_at: datetime
    heartbeat_at: datetime
    partitions: int


@dataclass(frozen=True, slots=True)
class View:
    """What one read of the database shows: live members and each partition's lease owner."""

    members: tuple[Member, ...]
    count: int
    owners: dict[int, str | None]  # unexpired lease owners (None: free or expired)

    def to_dict(self) -> dict[str, Any]:
        """`GET /v1/cluster`: each live replica with the partitions it holds now."""
        return {"partitions": self.count, "replicas": [
            {"id": m.id, "started_at": rfc3339(m.started_at), "heartbeat_at": rfc3339(m.heartbeat_at),
             "partitions": sorted(i for i, o in self.owners.items() if o == m.id)}
            for m in self.members]}


async def read_view(members: AsyncCollection, checkpoints: AsyncCollection, lease_seconds: float,
                    default_count: int, now: datetime | None = None) -> View:
    """Live members (heartbeat younger than a lease period) and the current lease owners."""
    now = now or utcnow()
    since = now - timedelta(seconds=lease_seconds)
    cluster = await members.find_one({"_id": CLUSTER}) or {}
    count = int(cluster.get("partitions") or default_count)
    live = [Member(d["_id"], d["started_at"], d["heartbeat_at"], d["partitions"])
            async for d in members.find({"_id": {"$ne": CLUSTER}, "heartbeat_at": {"$gt": since}})]
    live.sort(key=lambda m: (m.started_at, m.id))
    index = lease_index(count)
    owners: dict[int, str | None] = dict.fromkeys(range(count))
    async for d in checkpoints.find({"_id": {"$in": list(index)}}, {"owner": 1, "expires_at": 1}):
        expires = d.get("expires_at")
        if d.get("owner") and expires is not None and expires > now:
            owners[index[d["_id"]]] = d["owner"]
    return View(tuple(live), count, owners)


class Membership:
    """This replica's heartbeat and its share of the partitions (module docstring)."""

    def __init__(self, members: AsyncCollection, checkpoints: AsyncCollection, replica_id: str, *,
                 count: int, lease_seconds: float) -> None:
        self.members = members
        self.checkpoints = checkpoints
        self.id = replica_id
        self.count = count
        self.lease_seconds = lease_seconds
        self.started_at = utcnow()
        self.target: dict[int, str] = {}
        self.view: View | None = None

    def wants(self, index: int) -> bool:
        return self.target.get(index) == self.id

    async def join(self) -> None:
        """Check the partition count against the live replicas' and register.

        The first replica stores its count; a later one with another count is refused
        while any replica with the stored count is live, and changes it when none is
        (a deliberate change: stop them all, start them with the new count)."""
        others = [m for m in (await self._read()).members if m.id != self.id]
        self._refuse_if_different(others)
        stored = await self.members.find_one_and_update(
            {"_id": CLUSTER}, {"$setOnInsert": {"partitions": self.count, "at": utcnow()}}, upsert=True,
            return_document=True)
        if stored["partitions"] != self.count:
            log.warning("partition count changed from %s to %s (no replica with the old count is live): "
                        "the new partitions replay the retained events once", stored["partitions"], self.count)
            await self.members.update_one({"_id": CLUSTER}, {"$set": {"partitions": self.count, "at": utcnow()}})
        await self._beat(utcnow())
        # Two replicas started together with different counts both got here: the later refuses.
        others = [m for m in (await self._read()).members if m.id != self.id]
        try:
            self._refuse_if_different([m for m in others if (m.started_at, m.id) < (self.started_at, self.id)])
        except PartitionCountMismatch:
            await self.leave()
            raise
        await self.heartbeat()

    def _refuse_if_different(self, others: list[Member]) -> None:
        different = [m for m in others if m.partitions != self.count]
        if different:
            counts = sorted({m.partitions for m in different})
            raise PartitionCountMismatch(
                f"TOCSIN_EVALUATOR_PARTITIONS={self.count}, but the running replica(s) "
                f"{', '.join(m.id for m in different)} use {', '.join(map(str, counts))}: every replica must use "
                f"the same count. Start this one with {counts[0]}, or stop them all to change it.")

    async def heartbeat(self) -> bool:
        """Stay alive, re-read the others and re-assign; True if this replica's share changed."""
        now = utcnow()
        await self._beat(now)
        # Forget long-dead replicas (they are no longer live long before this).
        await self.members.delete_many({"_id": {"$ne": CLUSTER},
                                        "heartbeat_at": {"$lt": now - timedelta(seconds=10 * self.lease_seconds)}})
        self.view = await self._read(now)
        live = [m.id for m in self.view.members if m.partitions == self.count]
        if self.id not in live:
            live.append(self.id)  # our own heartbeat was just written
        before = {i for i in self.target if self.wants(i)}
        self.target = assign(live, self.count, self.view.owners) if self.view.count == self.count else {}
        mine = {i for i in self.target if self.wants(i)}
        if mine != before:
            log.info("replica %s evaluates partitions %s of %d (%d live replicas)", self.id, sorted(mine),
                     self.count, len(live))
        return mine != before

    async def leave(self) -> None:
        """On a clean stop: no longer a member, so the others take over as soon as the
        leases are released."""
        self.target = {}
        await self.members.delete_one({"_id": self.id})

    async def _beat(self, now: datetime) -> None:
        await self.members.update_one(
            {"_id": self.id},
            {"$set": {"heartbeat_at": now, "partitions": self.count},
             "$setOnInsert": {"started_at": self.started_at}}, upsert=True)

    async def _read(self, now: datetime | None = None) -> View:
        return await read_view(self.members, self.checkpoints, self.lease_seconds, self.count, now)
