"""The timer queue: deadlines in integer ms, fired in (deadline, insertion) order.

A timer is named by (kind, monitor, key): scheduling the same name again
replaces the earlier deadline, cancelling removes it. Stale heap entries are skipped when popped.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Timer:
    kind: str
    monitor: str
    key: str  # key_id of the alert / series / execution it belongs to
    deadline: int
    seq: int
    data: Any = None

    @property
    def id(self) -> str:
        return f"{self.kind}|{self.monitor}|{self.key}"

    def dump(self) -> list:
        return [self.id, self.kind, self.monitor, self.key, self.deadline, self.seq, self.data]


Tid = tuple  # (kind, monitor, key): cheaper to build and hash than a joined text


class TimerQueue:
    def __init__(self) -> None:
        # (deadline, seq, id); public so the hot path can peek at the next deadline
        self.heap: list[tuple[int, int, Tid]] = []
        self._timers: dict[Tid, Timer] = {}
        self._seq = 0

    def schedule(self, kind: str, monitor: str, key: str, deadline: int, data: Any = None) -> None:
        tid = (kind, monitor, key)
        old = self._timers.get(tid)
        if old is not None and old.deadline == deadline and old.data == data:
            return
        self._seq = seq = self._seq + 1
        self._timers[tid] = Timer(kind, monitor, key, deadline, seq, data)
        heapq.heappush(self.heap, (deadline, seq, tid))

    def cancel(self, kind: str, monitor: str, key: str) -> None:
        self._timers.pop((kind, monitor, key), None)

    def get(self, kind: str, monitor: str, key: str) -> Timer | None:
        return self._timers.get((kind, monitor, key))

    def pop_due(self, until: int, inclusive: bool = True) -> Timer | None:
        """The next live timer due at or before `until` (before, if not inclusive)."""
        heap = self.heap
        while heap:
            deadline, seq, tid = heap[0]
            if deadline > until or (deadline == until and not inclusive):
                return None
            heapq.heappop(heap)
            t = self._timers.get(tid)
            if t is not None and t.seq == seq:
                del self._timers[tid]
                return t
        return None

    def drop_monitor(self, monitor: str) -> None:
        for tid in [t for t, timer in self._timers.items() if timer.monitor == monitor]:
            del self._timers[tid]

    def __len__(self) -> int:
        return len(self._timers)

    def dump(self) -> dict:
        return {"seq": self._seq, "timers": [t.dump() for t in self._timers.values()]}

    def load(self, d: dict, keep: set[str]) -> None:
        """Restore the timers of the monitors in `keep` (rows as `Timer.dump` writes them)."""
        self._seq = max(self._seq, d["seq"])
        for row in d["timers"]:
            t = Timer(*row[1:])
            if t.monitor in keep:
                tid = (t.kind, t.monitor, t.key)
                self._timers[tid] = t
                heapq.heappush(self.heap, (t.deadline, t.seq, tid))
