"""The timer queue: deadlines in integer ms, fired in (deadline, insertion) order.

A timer is named by (kind, monitor, key): scheduling the same name again
replaces the earlier deadline, cancelling removes it. Stale heap entries are skipped when popped.

Every timer also carries the id of its handler, the part that acts when it is due
(`AlertBook.on_timer`, `AlertBook.on_escalation`, the monitor's trigger runtime): the
engine looks the id up in its table of handlers, so the kind is only a name.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Collection


@dataclass(slots=True)
class Timer:
    kind: str
    monitor: str
    key: str  # key_id of the alert / series / execution it belongs to
    deadline: int
    seq: int
    data: Any
    handler: str  # the id of the part that handles it when due (see the module doc)

    @property
    def id(self) -> str:
        return f"{self.kind}|{self.monitor}|{self.key}"

    def dump(self) -> list:
        return [self.id, self.kind, self.monitor, self.key, self.deadline, self.seq, self.data,
                self.handler]


Tid = tuple  # (kind, monitor, key): cheaper to build and hash than a joined text
Entry = tuple  # (deadline, seq, tid, data, handler): in the heap and, while live, in `_timers`


class TimerQueue:
    """Live timers by name, and a heap of (deadline, seq, ...) entries. An entry is
    live while `_timers` holds that very tuple; rescheduled or cancelled ones stay in
    the heap until they come up and are skipped. A `Timer` is built only when one fires."""

    def __init__(self) -> None:
        # public so the hot path can peek at the next deadline: heap[0][0]
        self.heap: list[Entry] = []
        self._timers: dict[Tid, Entry] = {}
        self._seq = 0

    def schedule(self, handler: str, kind: str, monitor: str, key: str, deadline: int,
                 data: Any = None) -> None:
        """Arm the timer (kind, monitor, key) for `deadline`, for the handler `handler`."""
        tid = (kind, monitor, key)
        old = self._timers.get(tid)
        if old is not None and old[0] == deadline and old[3] == data and old[4] == handler:
            return
        self._seq = seq = self._seq + 1
        entry = self._timers[tid] = (deadline, seq, tid, data, handler)
        heapq.heappush(self.heap, entry)

    def cancel(self, kind: str, monitor: str, key: str) -> None:
        self._timers.pop((kind, monitor, key), None)

    def has(self, kind: str, monitor: str, key: str) -> bool:
        return (kind, monitor, key) in self._timers

    def get(self, kind: str, monitor: str, key: str) -> Timer | None:
        entry = self._timers.get((kind, monitor, key))
        return _timer(entry) if entry is not None else None

    def pop_due(self, until: int, inclusive: bool = True) -> Timer | None:
        """The next live timer due at or before `until` (before, if not inclusive)."""
        heap, timers = self.heap, self._timers
        while heap:
            entry = heap[0]
            deadline = entry[0]
            if deadline > until or (deadline == until and not inclusive):
                return None
            heapq.heappop(heap)
            if timers.get(entry[2]) is entry:
                del timers[entry[2]]
                return _timer(entry)
        return None

    def drop_monitor(self, monitor: str) -> None:
        for tid in [tid for tid in self._timers if tid[1] == monitor]:
            del self._timers[tid]

    def __len__(self) -> int:
        return len(self._timers)

    def dump(self) -> dict:
        return {"seq": self._seq, "timers": [_timer(e).dump() for e in self._timers.values()]}

    def load(self, d: dict, keep: Collection[str]) -> None:
        """Restore the timers of the monitors in `keep` (rows as `Timer.dump` writes them)."""
        self._seq = max(self._seq, d["seq"])
        for row in d["timers"]:
            t = Timer(*row[1:])
            if t.monitor in keep:
                tid = (t.kind, t.monitor, t.key)
                entry = self._timers[tid] = (t.deadline, t.seq, tid, t.data, t.handler)
                heapq.heappush(self.heap, entry)


def _timer(entry: Entry) -> Timer:
    deadline, seq, (kind, monitor, key), data, handler = entry
    return Timer(kind, monitor, key, deadline, seq, data, handler)
