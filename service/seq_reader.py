"""Reading stored events in commit (`seq`) order after a resume point, minding holes.

    reader = SeqReader(db, after=42, skipped={40: 1767225600.0}, grace_seconds=5, recheck_seconds=600)
    docs = await reader.next_batch()      # late events first, then the unbroken run
    checkpoint_fields = reader.state()    # {"seq": ..., "skipped": [[seq, since], ...]}

A request reserves its sequence numbers before inserting, so two requests can commit
out of order and a failed insert leaves a hole (service/event_store.py). The reader
returns only the unbroken run after `after`; a hole still open after `grace_seconds` is
stepped over, and its numbers go into `skipped`. Every later poll looks them up again
for `recheck_seconds` (measured from when they were skipped): an event that commits
that late is returned once, by itself, and its number leaves `skipped`. The engine
evaluates it at its own time like any late event. After `recheck_seconds` a number is
given up (it almost surely belongs to a failed insert).

`skipped` is persisted with the checkpoint, so a restart or a take-over keeps watching
the same holes. It holds at most `MAX_SKIPPED` numbers; beyond that the oldest go first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from service.db import Database

log = logging.getLogger("tocsin.evaluator")

MAX_SKIPPED = 10_000
LATE_CHECK_SECONDS = 1.0  # how often the holes stepped over are looked up again
LATE_CHUNK = 50


class SeqReader:
    """Commit-order reader with a grace for holes and a bounded re-check of skipped ones."""

    def __init__(self, db: Database, after: int, *, grace_seconds: float, recheck_seconds: float = 600.0,
                 skipped: dict[int, float] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.after = after
        self.grace = grace_seconds
        self.recheck = recheck_seconds
        self.clock = clock
        self.skipped: dict[int, float] = dict(skipped or {})  # seq -> clock() when stepped over
        self._gap_since: float | None = None
        self._late_checked_at = float("-inf")

    @classmethod
    def from_checkpoint(cls, db: Database, checkpoint: dict[str, Any], **options: Any) -> SeqReader:
        """A reader resuming where a checkpoint document (see `state()`) left off."""
        skipped = {int(seq): float(since) for seq, since in checkpoint.get("skipped") or ()}
        return cls(db, int(checkpoint.get("seq") or 0), skipped=skipped, **options)

    @property
    def blocked(self) -> bool:
        """The last read stopped at a hole still within its grace: numbers given out
        and not yet committed (most often another process's insert in flight), with
        committed events behind them."""
        return self._gap_since is not None

    def state(self) -> dict[str, Any]:
        """The checkpoint fields: the resume point and the holes still watched."""
        return {"seq": self.after, "skipped": [[seq, since] for seq, since in sorted(self.skipped.items())]}

    async def next_batch(self, limit: int = 500) -> list[dict]:
        """Late events that filled skipped holes, then events after the resume point
        (fillers, which hold a refused duplicate's number, are stepped over)."""
        late = await self._late_events()
        return [d for d in late + await self._run(limit) if not d.get("filler")]

    async def _run(self, limit: int) -> list[dict]:
        docs = await self._next_docs(limit)
        out: list[dict] = []
        expected = self.after + 1
        for d in docs:
            if d["seq"] != expected:
                if not self._gap_expired():
                    break
                self._skip(range(max(expected, d["seq"] - MAX_SKIPPED), d["seq"]))
            self._gap_since = None
            out.append(d)
            expected = d["seq"] + 1
        if out:
            self.after = out[-1]["seq"]
        return out

    async def _next_docs(self, limit: int) -> list[dict]:
        """The committed events among the `limit` numbers after `after`; when there are none
        but numbers past them were handed out (a hole at least that long, e.g. a large
        batch whose insert failed), the first committed ones beyond it.

        Always a bounded range, never `seq > after` with a limit: the embedded database
        reads every document of a range before it sorts and limits, so an evaluator that
        fell behind by N events paid for N documents on every read (10,000 behind: 0.78 s
        a read instead of 0.04 s), and a storm slowed the more it piled up.

        An unbroken run that this process stored itself is taken from `db.recent`
        without a read (service/recent_events.py)."""
        start = self.after + 1
        recent = self.db.recent
        docs = recent.run(start, limit)  # what this process just stored, unread
        if docs or (recent.newest >= start and recent.next_stored(start, limit) is not None):
            # Another writer holds the next numbers and this process stored later ones: read
            # those numbers from the database now (or they would wait for the next
            # wake-up), and only those: each window ends where this process's next stored
            # number begins, and the run goes on from there unread. At a hole among theirs
            # (most often a `tocsin worker`'s insert still in flight, the read the evaluator
            # repeats while `blocked`), this process's events behind it come along, so the
            # hole is seen: waited for, and stepped over past its grace.
            end = docs[-1]["seq"] if docs else start - 1
            while len(docs) < limit and recent.newest > end:
                room = limit - len(docs)
                mine = recent.next_stored(end + 1, room)
                gap = await self._window(end + 1, (mine or end + 1 + room) - end - 1)
                docs += gap
                if mine is not None:
                    docs += recent.run(mine, limit - len(docs))
                if mine is None or len(gap) != mine - end - 1:
                    break  # a hole (or none of ours in reach): the next read goes on from here
                end = docs[-1]["seq"]
            return docs
        docs = await self._window(start, limit)
        if docs:
            return docs
        counter = await self.db.counters.find_one({"_id": "events"}, {"n": 1})
        allocated = int((counter or {}).get("n") or 0)
        start += limit
        while start <= allocated:  # each empty window is an index lookup that finds nothing
            docs = await self._window(start, limit)
            if docs:
                return docs
            start += limit
        return []

    async def _window(self, start: int, size: int) -> list[dict]:
        cursor = self.db.events.find({"seq": {"$gte": start, "$lt": start + size}}).sort("seq", 1)
        return [d async for d in cursor]

    async def _late_events(self) -> list[dict]:
        if not self.skipped:
            return []
        now = self.clock()
        expired = [seq for seq, since in self.skipped.items() if now - since >= self.recheck]
        for seq in expired:
            del self.skipped[seq]
        if expired:
            log.info("gave up waiting for %d event sequence number(s), e.g. %s", len(expired), expired[0])
        if not self.skipped or now - self._late_checked_at < LATE_CHECK_SECONDS:
            return []
        self._late_checked_at = now
        wanted = sorted(self.skipped)
        docs = []
        for i in range(0, len(wanted), LATE_CHUNK):  # SecantusDB matches `$in` in quadratic time
            docs += [d async for d in self.db.events.find({"seq": {"$in": wanted[i:i + LATE_CHUNK]}})]
        docs.sort(key=lambda d: d["seq"])
        for d in docs:
            self.skipped.pop(d["seq"], None)
        if docs:
            log.warning("%d event(s) committed after the gap grace; evaluating them late", len(docs))
        return docs

    def _skip(self, seqs: Iterable[int]) -> None:
        now = self.clock()
        for seq in seqs:
            self.skipped[seq] = now
        while len(self.skipped) > MAX_SKIPPED:
            self.skipped.pop(next(iter(self.skipped)))  # insertion order: the oldest hole first

    def _gap_expired(self) -> bool:
        now = self.clock()
        if self._gap_since is None:
            self._gap_since = now
        return now - self._gap_since >= self.grace
