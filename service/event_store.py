"""Stored events: insertion with a commit-order sequence number, reading in that order.

Every stored event gets a `seq` from the `counters` document, allocated for the whole
write with one `$inc` before the insert. `POST /v1/events` goes through `EventWriter`,
which writes the requests that arrive together as one group (one `$inc`, one
`insert_many`) and keeps one write in flight per process. Order and gaps:

- A duplicate (an id stored before) is found by the insert itself (the unique `_id`),
  not by a lookup first: a lookup cost every write a round trip for the rare repeat.
  The number it was given is then taken by a filler document (`{_id: "\x00seq:N",
  seq: N, stored_at}`, no `event`), which the evaluator steps over at once.
- Writes from different processes (replicas, the delivery workers) racing can commit out
  of `seq` order, and a failed insert leaves a gap. The evaluator therefore reads only
  the contiguous prefix after its resume point and waits up to
  `TOCSIN_GAP_GRACE_SECONDS` for a gap to fill before stepping over it
  (`service.seq_reader.SeqReader`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, ConnectionFailure

from engine.times import parse_time
from service.db import Database

DUPLICATE_KEY = 11000
# After a write found the database unreachable (which takes the driver's 5 s server
# selection), requests in the next second are answered 503 at once instead of each
# waiting out another selection behind it; then the database is tried again.
FAST_FAIL_SECONDS = 1.0


async def _allocate(db: Database, n: int) -> int:
    """Reserve `n` sequence numbers; returns the first. Unsynced: the insert it numbers
    is synced and makes it durable (a lost allocation without an insert is harmless)."""
    doc = await db.unsynced().counters.find_one_and_update(
        {"_id": "events"}, {"$inc": {"n": n}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    return doc["n"] - n + 1


@dataclass
class _Request:
    """One caller's share of a group write: its events and what became of them."""

    events: list[dict]
    now: datetime
    duplicates: int = 0
    error: BaseException | None = None


LOOKUP_CHUNK = 50  # ids per `$in`: SecantusDB matches `$in` in time quadratic in its length


async def _known_ids(db: Database, ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for i in range(0, len(ids), LOOKUP_CHUNK):
        seen.update([d["_id"] async for d in db.events.find({"_id": {"$in": ids[i:i + LOOKUP_CHUNK]}}, {"_id": 1})])
    return seen


async def _store_group(db: Database, group: list[_Request], *, lookup: bool = True) -> None:
    """Store the events of several callers with one lookup, one `$inc` and one insert.

    Outcomes are recorded on each `_Request` (duplicates, or the error that failed it),
    exactly as if the callers had been served one after the other in list order.
    With `lookup`, known ids are looked up first and take no number (for writes that
    are mostly repeats, as after a crash); without, a duplicate is refused by the
    insert and its number filled (`fill_numbers`).
    """
    ids = list({e["id"]: None for r in group for e in r.events})
    seen = await _known_ids(db, ids) if lookup else set()
    fresh: list[tuple[_Request, dict]] = []
    for req in group:
        for e in req.events:
            if e["id"] in seen:
                req.duplicates += 1
            else:
                seen.add(e["id"])
                fresh.append((req, e))
    if not fresh:
        return
    first = await _allocate(db, len(fresh))
    docs = [
        {"_id": e["id"], "seq": first + i, "time": parse_time(e["time"]), "stored_at": req.now, "event": e}
        for i, (req, e) in enumerate(fresh)
    ]
    try:
        await db.events.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        unused, refused = [], set()
        for err in exc.details.get("writeErrors", []):
            refused.add(err["index"])
            req = fresh[err["index"]][0]
            if err.get("code") == DUPLICATE_KEY:
                req.duplicates += 1  # stored before, or by another writer just now
                unused.append(docs[err["index"]]["seq"])
            elif req.error is None:
                req.error = exc
        db.recent.add(d for i, d in enumerate(docs) if i not in refused)
        if unused:
            await fill_numbers(db, unused, group[0].now)
    else:
        db.recent.add(docs)  # for this process's evaluators (service/recent_events.py)


def filler(seq: int, now: datetime) -> dict:
    """The document that takes a sequence number no event will have (see the module doc)."""
    return {"_id": f"\x00seq:{seq}", "seq": seq, "stored_at": now, "filler": True}


async def fill_numbers(db: Database, seqs: list[int], now: datetime) -> None:
    """Take numbers a refused duplicate was given, so the evaluator need not wait them out.
    Best effort: a number left empty is a gap, waited out as any other."""
    fillers = [filler(seq, now) for seq in seqs]
    try:
        await db.events.insert_many(fillers, ordered=False)
    except BulkWriteError as exc:
        refused = {err["index"] for err in exc.details.get("writeErrors", [])}
        db.recent.add(f for i, f in enumerate(fillers) if i not in refused)
    else:
        db.recent.add(fillers)


async def store_events(db: Database, events: list[dict], *, now: datetime | None = None,
                       lookup: bool = True) -> tuple[list[str], int]:
    """Store envelopes (already validated); returns (ids in order, duplicates).

    A repeated id, in the database or earlier in the same batch, is a duplicate: it is
    counted and changes nothing. `lookup=False` is for events the service emits with
    deterministic, fresh ids (see `_store_group`).
    """
    req = _Request(events, now or datetime.now(timezone.utc))
    await _store_group(db, [req], lookup=lookup)
    if req.error is not None:
        raise req.error
    return [e["id"] for e in events], req.duplicates


class EventWriter:
    """Group commit for `POST /v1/events`: concurrent requests share one database write.

        writer = EventWriter(db)            # one per process and event loop
        ids, duplicates = await writer.store(events, now=now)

    While a write is in flight, arriving requests queue; the next write takes all of
    them (up to `max_events`). Each costs the database two commands (`$inc`,
    `insert_many`) whatever the group size, and since one process never has
    two writes in flight its events commit in `seq` order (no self-made gaps). The
    result for each caller is the one `store_events` would give.
    """

    def __init__(self, db: Database, *, max_events: int = 1000) -> None:
        self.db = db
        self.max_events = max_events
        self._queue: list[tuple[_Request, asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self._down: tuple[float, ConnectionFailure] | None = None  # when a write last found it away

    async def store(self, events: list[dict], *, now: datetime | None = None) -> tuple[list[str], int]:
        req = _Request(events, now or datetime.now(timezone.utc))
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((req, done))
        if self._task is None or self._task.done():
            # A task of its own: a caller that is cancelled must not stop the others' write.
            self._task = asyncio.create_task(self._drain(), name="event-writer")
        await done
        if req.error is not None:
            raise req.error
        return [e["id"] for e in events], req.duplicates

    def _take(self) -> list[tuple[_Request, asyncio.Future]]:
        taken, total = [], 0
        while self._queue and (not taken or total + len(self._queue[0][0].events) <= self.max_events):
            item = self._queue.pop(0)
            taken.append(item)
            total += len(item[0].events)
        return taken

    async def _drain(self) -> None:
        while self._queue:
            group = self._take()
            try:
                if self._down is not None and time.monotonic() - self._down[0] < FAST_FAIL_SECONDS:
                    raise self._down[1]  # the last write found the database away: answer now
                await _store_group(self.db, [req for req, _ in group], lookup=False)
                self._down = None
            except Exception as exc:  # the database failed: every caller in the group gets it
                if isinstance(exc, ConnectionFailure) and (self._down is None or self._down[1] is not exc):
                    self._down = (time.monotonic(), exc)
                for req, _ in group:
                    req.error = req.error or exc
            for _, done in group:
                if not done.done():
                    done.set_result(None)
