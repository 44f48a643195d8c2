"""Sliding windows of bucketed aggregates: one `Series` per metric monitor and key.

Time is cut into buckets of `resolution = max(1 s, window / 60)` (integer ms). At time
`t` a window holds the buckets `b` with `b > t // resolution - n`, `n = ceil(window /
resolution)`. So an event at time `e` is counted from `e` until `(e // r + n) * r`: for
at least `window - resolution` and at most `window`. That is the whole error bound:
events younger than `window - resolution` always count, events older than `window`
never do (docs/semantics.md).

Aggregates keep running totals where they can (count, sum, avg: O(1) per event and
query; distinct: a multiset) and recompute over the buckets where they cannot (min,
max, percentiles: O(values in window)).

A field aggregate sees only values: a missing field or a JSON null is not one (as SQL's
`COUNT(DISTINCT x)` and ElastAlert's cardinality rule skip them), and `sum`, `avg`,
`min`, `max` and percentiles also skip what is not a number. A window whose events
carry no value is, for that aggregate, an empty window (`Agg.value`).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from typing import Any

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


def resolution_ms(window_ms: int) -> int:
    return max(1000, window_ms // 60)


class Agg:
    """One aggregate's buckets. `value(window_ms)` is None when it has no value: `avg`,
    `min`, `max` and percentiles of a window without values; `count`, `rate`, `sum` and
    `distinct` of one are 0."""

    __slots__ = ("func", "counting", "buckets", "count", "total", "values")

    def __init__(self, func: str) -> None:
        self.func = func
        self.counting = func in ("count", "rate")  # buckets hold counts (`Series.add`)
        self.buckets: dict[int, Any] = {}
        self.count = 0
        self.total = 0.0
        self.values: Counter | None = Counter() if func == "distinct" else None

    def add(self, bucket: int, v: Any) -> bool:
        """Count `v` in `bucket`; False when it is not a value of this aggregate."""
        f = self.func
        if f in ("count", "rate"):
            self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
            self.count += 1
            return True
        if f == "distinct":
            if v is None:
                return False  # missing or null: not a value
            v = _hashable(v)
            self.buckets.setdefault(bucket, []).append(v)
            self.values[v] += 1
            return True
        if not _is_number(v):
            return False  # sum/avg/min/max/pXX of a non-number (None included): not counted
        self.buckets.setdefault(bucket, []).append(v)
        self.count += 1
        self.total += v
        return True

    def expire(self, bucket: int) -> None:
        data = self.buckets.pop(bucket, None)
        if data is None:
            return
        f = self.func
        if f in ("count", "rate"):
            self.count -= data
        elif f == "distinct":
            for v in data:
                self.values[v] -= 1
                if not self.values[v]:
                    del self.values[v]
        else:
            self.count -= len(data)
            self.total = self.total - math.fsum(data) if self.count else 0.0

    def value(self, window_ms: int) -> float | None:
        f = self.func
        if f == "count":
            return self.count
        if f == "rate":
            return self.count / (window_ms / 1000)
        if f == "distinct":
            return len(self.values)
        if not self.count:
            return 0 if f == "sum" else None
        if f == "sum":
            return self.total
        if f == "avg":
            return self.total / self.count
        values = [x for b in self.buckets.values() for x in b]
        if f == "min":
            return min(values)
        if f == "max":
            return max(values)
        return nearest_rank(sorted(values), PERCENTILES[f])

    def dump(self) -> list:
        return [[b, d] for b, d in self.buckets.items()]

    def load(self, rows: list) -> None:
        for b, d in rows:
            if self.func in ("count", "rate"):
                self.buckets[b] = d
                self.count += d
            else:
                for v in d:
                    self.add(b, v)


def nearest_rank(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least q of all at or below."""
    idx = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[idx]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _hashable(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        import json

        return json.dumps(v, sort_keys=True)
    return v


class Series:
    """The window state of one key of one metric monitor: one `Agg` per aggregate."""

    __slots__ = ("window_ms", "res_ms", "n", "aggs", "heap", "cutoff")

    def __init__(self, window_ms: int, funcs: list[str]) -> None:
        self.window_ms = window_ms
        self.res_ms = resolution_ms(window_ms)
        self.n = -(-window_ms // self.res_ms)
        self.aggs = [Agg(f) for f in funcs]
        self.heap: list[int] = []  # bucket indexes present, oldest first
        self.cutoff = -(1 << 62)  # buckets <= cutoff have left the window

    def add(self, t_ms: int, i: int, v: Any) -> bool:
        """Count value `v` of aggregate `i` at time `t_ms`; False if already too old. A
        fresh event without a value (missing, null, not a number) returns True: it is
        counted nowhere, but the series is evaluated at its time all the same."""
        b = t_ms // self.res_ms
        if b <= self.cutoff:
            return False
        agg = self.aggs[i]
        buckets = agg.buckets
        if agg.counting:  # the hot path, `Agg.add` inlined
            n = buckets.get(b)
            if n is None:
                heapq.heappush(self.heap, b)  # a duplicate across aggregates is harmless
                buckets[b] = 1
            else:
                buckets[b] = n + 1
            agg.count += 1
            return True
        new = b not in buckets
        if agg.add(b, v) and new:
            heapq.heappush(self.heap, b)
        return True

    def advance(self, now_ms: int) -> None:
        """Drop the buckets that have left the window at `now_ms`."""
        cutoff = now_ms // self.res_ms - self.n
        if cutoff <= self.cutoff:
            return
        self.cutoff = cutoff
        heap = self.heap
        while heap and heap[0] <= cutoff:
            b = heapq.heappop(heap)
            for a in self.aggs:
                a.expire(b)

    def values(self) -> list[float | None]:
        w = self.window_ms
        return [a.count if a.func == "count" else a.value(w) for a in self.aggs]

    def next_expiry_ms(self) -> int | None:
        """When the oldest bucket leaves the window (None: the window is empty)."""
        return (self.heap[0] + self.n) * self.res_ms if self.heap else None

    @property
    def empty(self) -> bool:
        return not self.heap

    def dump(self) -> dict:
        return {"cutoff": self.cutoff, "aggs": [a.dump() for a in self.aggs]}

    def load(self, d: dict) -> None:
        self.cutoff = d["cutoff"]
        for agg, rows in zip(self.aggs, d["aggs"]):
            agg.load(rows)
        self.heap = sorted({b for a in self.aggs for b in a.buckets})
