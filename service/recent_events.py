"""The events this process has just stored, kept for its own evaluators.

    recent = RecentEvents()
    recent.add(docs)                  # after the insert that stored them was acknowledged
    docs = recent.run(after + 1, 500) # the unbroken run of stored documents from a number

Every evaluator reads the stored events back in `seq` order (service/seq_reader.py). Most
of what it reads in one process was written by that same process a moment before: the
events of `POST /v1/events` and the `alert.*` events of its own rounds. Reading them back
cost the embedded database a range read and a BSON encode and decode per document (the
largest share of the evaluator's reads in a storm) and each event a round trip on its
way to a notification. The writers (the event writer, the outbox's `alert.*` events and
the worker threads' `notification.*` events, service/ledger_store.py) now leave each
acknowledged document here too, and a
reader takes an unbroken run of sequence numbers from here before it asks the database.

Nothing about order or durability changes: only documents whose insert the database
acknowledged (with the write concern of the write that stored them) are added, a run
stops at the first number this process did not store (another process's event, a hole),
and there the reader reads the database as before: at once when this process stored
later numbers (a worker's `notification.*` event between two of ours), else at its next
wake-up, as it would after a database read that found nothing more. The documents are the ones inserted,
shared by every evaluator of the process, and read-only by convention, as the engine
treats events. At most `capacity` documents are kept, the oldest dropped first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

CAPACITY = 4096


class RecentEvents:
    """Stored event documents by sequence number, bounded (see the module doc)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._docs: dict[int, dict] = {}
        self.newest = 0  # the highest number this process stored (kept when evicted)
        self._lock = threading.Lock()  # the ledger's worker threads add too

    def add(self, docs: Iterable[dict]) -> None:
        docs = list(docs)
        with self._lock:
            for doc in docs:
                self._docs[doc["seq"]] = doc
                if doc["seq"] > self.newest:
                    self.newest = doc["seq"]
            while len(self._docs) > self.capacity:
                del self._docs[next(iter(self._docs))]  # insertion order: the oldest first

    def run(self, start: int, limit: int) -> list[dict]:
        """The documents numbered `start`, `start + 1`, … up to the first one not here."""
        out: list[dict] = []
        get = self._docs.get
        with self._lock:
            while len(out) < limit:
                doc = get(start + len(out))
                if doc is None:
                    break
                out.append(doc)
        return out

    def next_stored(self, start: int, within: int) -> int | None:
        """The first number from `start` on (at most `within` of them) stored here."""
        with self._lock:
            return next((seq for seq in range(start, start + within) if seq in self._docs), None)

    def __len__(self) -> int:
        return len(self._docs)
