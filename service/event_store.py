"""Stored events: insertion with a commit-order sequence number, reading in that order.

Every stored event gets a `seq` from the `counters` document, allocated for the whole
batch with one `$inc` before the insert. Order and gaps:

- A batch's ids are first looked up, so known duplicates take no sequence number.
- Two requests racing can commit out of `seq` order, and a failed insert (or a duplicate
  that raced past the lookup) leaves a gap. The evaluator therefore reads only the
  contiguous prefix after its resume point and waits up to `TOCSIN_GAP_GRACE_SECONDS`
  for a gap to fill before stepping over it (`SeqReader`).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError

from service.db import Database

DUPLICATE_KEY = 11000


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


async def _allocate(db: Database, n: int) -> int:
    """Reserve `n` sequence numbers; returns the first."""
    doc = await db.counters.find_one_and_update(
        {"_id": "events"}, {"$inc": {"n": n}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    return doc["n"] - n + 1


async def store_events(db: Database, events: list[dict], *, now: datetime | None = None) -> tuple[list[str], int]:
    """Store envelopes (already validated); returns (ids in order, duplicates).

    A repeated id, in the database or earlier in the same batch, is a duplicate: it is
    counted and changes nothing.
    """
    now = now or datetime.now(timezone.utc)
    ids = [e["id"] for e in events]
    known = {d["_id"] async for d in db.events.find({"_id": {"$in": ids}}, {"_id": 1})}
    fresh, seen = [], set(known)
    for e in events:
        if e["id"] not in seen:
            seen.add(e["id"])
            fresh.append(e)
    duplicates = len(events) - len(fresh)
    if not fresh:
        return ids, duplicates
    first = await _allocate(db, len(fresh))
    docs = [
        {"_id": e["id"], "seq": first + i, "time": parse_time(e["time"]), "stored_at": now, "event": e}
        for i, e in enumerate(fresh)
    ]
    try:
        await db.events.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errs = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errs):
            raise
        duplicates += len(errs)  # lost a race with another request carrying the same id
    return ids, duplicates


class SeqReader:
    """Reads stored events in `seq` order after a resume point, minding gaps."""

    def __init__(self, db: Database, after: int, *, grace_seconds: float, clock=time.monotonic) -> None:
        self.db = db
        self.after = after
        self.grace = grace_seconds
        self.clock = clock
        self._gap_since: float | None = None

    async def next_batch(self, limit: int = 500) -> list[dict]:
        """Events with seq after the resume point, stopping at a gap still in its grace."""
        cursor = self.db.events.find({"seq": {"$gt": self.after}}).sort("seq", 1).limit(limit)
        docs = [d async for d in cursor]
        out: list[dict] = []
        expected = self.after + 1
        for d in docs:
            if d["seq"] != expected and not self._gap_expired():
                break
            self._gap_since = None
            out.append(d)
            expected = d["seq"] + 1
        if out:
            self.after = out[-1]["seq"]
        return out

    def _gap_expired(self) -> bool:
        now = self.clock()
        if self._gap_since is None:
            self._gap_since = now
        return now - self._gap_since >= self.grace


def envelope(doc: dict[str, Any]) -> dict[str, Any]:
    """The event as the engine and the API see it."""
    return doc["event"]
