"""The candidate index: from an event to the monitors that can care about it.

Monitors are filed under every pattern they listen to (exact type or `family.*`) and,
when they have `on` clauses, under the values of their first scope (`on flow "Sync"`
files the monitor under flow=Sync). For an event, the candidates are the unscoped
monitors of its type plus the scoped ones filed under its flow / instance / customer
values, so the cost per event grows with the candidates, not with all monitors. The
per-type buckets are built on first sight of a type and cached.
"""

from __future__ import annotations

from engine.compile import CompiledMonitor
from engine.events import scope_values


class _Bucket:
    __slots__ = ("unscoped", "scoped", "merged")

    def __init__(self) -> None:
        self.merged: dict[object, list[CompiledMonitor]] = {}  # flow -> candidates
        self.unscoped: list[CompiledMonitor] = []
        self.scoped: dict[str, dict[str, list[CompiledMonitor]]] = {}


class MonitorIndex:
    def __init__(self, monitors: list[CompiledMonitor]) -> None:
        self._order = {m.name: i for i, m in enumerate(monitors)}
        self._exact: dict[str, list[CompiledMonitor]] = {}
        self._family: dict[str, list[CompiledMonitor]] = {}
        for m in monitors:
            if m.disabled:
                continue
            for p in m.patterns:
                table = self._exact if p.exact else self._family
                bucket = table.setdefault(p.text if p.exact else p.family, [])
                if m not in bucket:
                    bucket.append(m)
        self._cache: dict[str, _Bucket] = {}

    def _bucket(self, event_type: str) -> _Bucket:
        found = self._cache.get(event_type)
        if found is not None:
            return found
        monitors = list(self._exact.get(event_type, ()))
        parts = event_type.split(".")
        for i in range(1, len(parts)):
            for m in self._family.get(".".join(parts[:i]), ()):
                if m not in monitors:
                    monitors.append(m)
        monitors.sort(key=lambda m: self._order[m.name])
        bucket = _Bucket()
        for m in monitors:
            if not m.scopes:
                bucket.unscoped.append(m)
                continue
            scope = m.scopes[0]
            by_value = bucket.scoped.setdefault(scope.kind, {})
            for v in scope.values:
                by_value.setdefault(v, []).append(m)
        if len(self._cache) > 10_000:  # bounded: event types are open-ended
            self._cache.clear()
        self._cache[event_type] = bucket
        return bucket

    def candidates(self, ev: dict) -> list[CompiledMonitor]:
        """The monitors that may react to `ev`, in rule-set order."""
        bucket = self._bucket(ev.get("type", ""))
        if not bucket.scoped:
            return bucket.unscoped
        flow = ev.get("flow")
        if len(bucket.scoped) == 1 and "flow" in bucket.scoped and type(flow) is str:
            # the common case, cached per flow
            merged = bucket.merged.get(flow)
            if merged is None:
                merged = self._merge(bucket, bucket.scoped["flow"].get(flow, ()))
                if len(bucket.merged) < 10_000:
                    bucket.merged[flow] = merged
            return merged
        found = list(bucket.unscoped)
        for kind, by_value in bucket.scoped.items():
            for v in scope_values(ev, kind):
                if v is not None:
                    for m in by_value.get(v, ()):
                        if m not in found:
                            found.append(m)
        if len(found) > len(bucket.unscoped):
            found.sort(key=lambda m: self._order[m.name])
        return found

    def _merge(self, bucket: _Bucket, scoped) -> list[CompiledMonitor]:
        found = bucket.unscoped + [m for m in scoped if m not in bucket.unscoped]
        found.sort(key=lambda m: self._order[m.name])
        return found
