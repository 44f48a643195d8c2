"""The candidate index: from an event to the monitors that can care about it.

Monitors are filed under every pattern they listen to (exact type or `family.*`) and,
when they have `on` clauses, under the values of their first scope (`on flow "Sync"`
files the monitor under flow=Sync). For an event, the candidates are the unscoped
monitors of its type plus the scoped ones filed under its flow / instance / customer
values, so the cost per event grows with the candidates, not with all monitors. The
per-type buckets are built on first sight of a type and cached, and so are the routes
of the common case (monitors scoped on flows only) per flow.

A `Route` carries the candidates and, when the index was given a `handler` factory (the
engine passes each monitor's runtime `on_event`), their handlers, so the engine's hot
loop does no lookups per candidate.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.compile import CompiledMonitor
from engine.events import scope_values

Handler = Callable[[dict, str, int], Any]


class Route:
    """The candidates of an event in rule-set order, their handlers, and whether any
    of them needs the rest of its scopes checked (`multi_scope`)."""

    __slots__ = ("monitors", "handlers", "checked")

    def __init__(self, monitors: list[CompiledMonitor], handler: Callable | None) -> None:
        self.monitors = monitors
        self.handlers: tuple[Handler, ...] = tuple(handler(m) for m in monitors) if handler else ()
        self.checked = any(m.multi_scope for m in monitors)


class _Bucket:
    __slots__ = ("family", "unscoped", "scoped", "merged", "plain", "flow_only")

    def __init__(self, family: str) -> None:
        self.family = family
        self.merged: dict[object, Route] = {}  # flow -> route
        self.unscoped: list[CompiledMonitor] = []
        self.scoped: dict[str, dict[str, list[CompiledMonitor]]] = {}
        self.plain: Route | None = None  # the route when no monitor of the type is scoped
        self.flow_only = False


class MonitorIndex:
    def __init__(self, monitors: list[CompiledMonitor],
                 handler: Callable[[CompiledMonitor], Handler] | None = None) -> None:
        self._order = {m.name: i for i, m in enumerate(monitors)}
        self._handler = handler
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
        bucket = _Bucket(event_type.partition(".")[0])
        for m in monitors:
            if not m.scopes:
                bucket.unscoped.append(m)
                continue
            scope = m.scopes[0]
            by_value = bucket.scoped.setdefault(scope.kind, {})
            for v in scope.values:
                by_value.setdefault(v, []).append(m)
        if not bucket.scoped:
            bucket.plain = Route(bucket.unscoped, self._handler)
        bucket.flow_only = len(bucket.scoped) == 1 and "flow" in bucket.scoped
        if len(self._cache) > 10_000:  # bounded: event types are open-ended
            self._cache.clear()
        self._cache[event_type] = bucket
        return bucket

    def route(self, ev: dict) -> tuple[str, Route]:
        """(the event's family, its route): the monitors that may react to `ev`."""
        bucket = self._cache.get(ev.get("type", "")) or self._bucket(ev.get("type", ""))
        if bucket.plain is not None:
            return bucket.family, bucket.plain
        flow = ev.get("flow")
        if bucket.flow_only and type(flow) is str:
            merged = bucket.merged.get(flow)  # the common case, cached per flow
            if merged is None:
                merged = Route(self._merge(bucket, bucket.scoped["flow"].get(flow, ())),
                               self._handler)
                if len(bucket.merged) < 10_000:
                    bucket.merged[flow] = merged
            return bucket.family, merged
        found = list(bucket.unscoped)
        for kind, by_value in bucket.scoped.items():
            for v in scope_values(ev, kind):
                for m in by_value.get(v, ()):
                    if m not in found:
                        found.append(m)
        if len(found) > len(bucket.unscoped):
            found.sort(key=lambda m: self._order[m.name])
        return bucket.family, Route(found, self._handler)

    def candidates(self, ev: dict) -> list[CompiledMonitor]:
        """The monitors that may react to `ev`, in rule-set order."""
        return self.route(ev)[1].monitors

    def _merge(self, bucket: _Bucket, scoped) -> list[CompiledMonitor]:
        found = bucket.unscoped + [m for m in scoped if m not in bucket.unscoped]
        found.sort(key=lambda m: self._order[m.name])
        return found
