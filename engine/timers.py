"""The timer queue: deadlines in integer ms, fired in (deadline, insertion) order.

A timer is named by its id (`kind|monitor|key`...): scheduling an id again replaces the
earlier deadline, cancelling removes it. Stale heap entries are skipped when popped.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Timer:
    id: str
    kind: str
    monitor: str
    key: str  # key_id of the alert / series / execution it belongs to
    deadline: int
    seq: int
    data: Any = None

    def dump(self) -> list:
        return [self.id, self.kind, self.monitor, self.key, self.deadline, self.seq, self.data]


class TimerQueue:
    def __init__(self) -> None:
        # (deadline, seq, id); public so the hot path can peek at the next deadline
        self.heap: list[tuple[int, int, str]] = []
        self._timers: dict[str, Timer] = {}
        self._seq = 0

    def schedule(self, kind: str, monitor: str, key: str, deadline: int, data: Any = None) -> None:
        tid = f"{kind}|{monitor}|{key}"
        old = self._timers.get(tid)
        if old is not None and old.deadline == deadline and old.data == data:
            return
        self._seq += 1
        self._timers[tid] = Timer(tid, kind, monitor, key, deadline, self._seq, data)
        heapq.heappush(self.heap, (deadline, self._seq, tid))

    def cancel(self, kind: str, monitor: str, key: str) -> None:
        self._timers.pop(f"{kind}|{monitor}|{key}", None)

    def get(self, kind: str, monitor: str, key: str) -> Timer | None:
        return self._timers.get(f"{kind}|{monitor}|{key}")

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
        """Restore the timers of the monitors in `keep`."""
        self._seq = max(self._seq, d["seq"])
        for row in d["timers"]:
            t = Timer(*row)
            if t.monitor in keep:
                self._timers[t.id] = t
                heapq.heappush(self.heap, (t.deadline, t.seq, t.id))
