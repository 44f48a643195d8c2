"""Checked monitors compiled once into immutable `CompiledMonitor`s.

Everything a monitor needs per event is a closure built here: its trigger test, `where`,
scopes, alert key, `until` test, metric aggregates. Runtime state lives elsewhere
(engine/triggers), so a compiled monitor never changes and can be shared.

Trigger kinds: `event`, `comparison`, `duration` (`execution.duration >= D`, with its
timer from `execution.started`), `absence`, `metric`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dsl import ast as A
from dsl.catalog import DEFAULT_SEVERITY
from dsl.ruleset import MonitorDef, RuleSet
from engine import exprs
from engine.events import cacheable, default_key, default_key_values, key_field, scope_values
from engine.metrics import MetricSpec, compile_metric
from engine.patterns import Pattern
from engine.routing import Routes, routes_of
from dsl.formatter import format_trigger

KeyFn = Callable[[dict, str], dict]
KeyValuesFn = Callable[[dict, str], "tuple | None"]


@dataclass(frozen=True, slots=True)
class Scope:
    """`on flow "A", "B"`: the event's flow (instance: name or id; customer: name or
    external id) must be one of `values`. Clauses of one scope kind are merged."""

    kind: str
    values: tuple[str, ...]

    def match(self, ev: dict) -> str | None:
        """The value written in the clause that this event matched, else None."""
        if self.kind == "flow":  # the common case, `scope_values` unrolled
            v = ev.get("flow")
            return v if type(v) is str and v in self.values else None
        for v in scope_values(ev, self.kind):
            if v is not None and v in self.values:
                return v
        return None


@dataclass(frozen=True, slots=True, eq=False)
class CompiledMonitor:
    name: str
    file: str
    line: int
    source: str
    kind: str
    summary: str
    patterns: tuple[Pattern, ...]  # every pattern it listens to (trigger, until, aggregates)
    trigger: Pattern | None
    scopes: tuple[Scope, ...]
    where: exprs.Cond | None
    test: exprs.Cond | None  # comparison triggers: the comparison
    key: KeyFn
    key_fields: tuple[str, ...]
    until: Pattern | None = None
    until_where: exprs.Cond | None = None
    every_ms: int | None = None
    for_ms: int = 0
    keep_ms: int = 0
    within_ms: int = 0
    duration_ms: int = 0
    metric: MetricSpec | None = None
    threshold: float | None = None
    expected_keys: tuple[dict, ...] = ()
    routes: Routes = field(default_factory=Routes)
    severity: str = DEFAULT_SEVERITY
    message: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    mute: str | None = None
    disabled: bool = False
    multi_scope: bool = False  # more than one scope kind: the index checks only the first
    # the values `key` is made of, hashable, equal values meaning equal keys; None when
    # they cannot stand for the key (runtimes cache keys and their ids by them)
    key_values: KeyValuesFn = lambda ev, fam: None

    def in_scope(self, ev: dict) -> bool:
        """Whether every scope holds; the index already checked the first one."""
        for s in self.scopes[1:]:
            if s.match(ev) is None:
                return False
        return True

    @property
    def longest_ms(self) -> int:
        """The longest window or interval of this monitor (for `tocsin test --until`)."""
        metric = self.metric.window_ms if self.metric else 0
        esc = max((a for a, _ in self.routes.escalations), default=0)
        return max(metric, self.within_ms, self.every_ms or 0, self.for_ms, self.keep_ms,
                   self.duration_ms, esc)


def compile_ruleset(ruleset: RuleSet) -> dict[str, CompiledMonitor]:
    return {m.name: compile_monitor(m, ruleset) for m in ruleset.monitors}


def _ms(d: A.Duration | None) -> int:
    return int(d.seconds * 1000) if d is not None else 0


def compile_monitor(mdef: MonitorDef, ruleset: RuleSet) -> CompiledMonitor:
    m = mdef.monitor
    trig = m.trigger
    scopes = _scopes(m)
    where = m.clause(A.WhereClause)
    until = m.clause(A.UntilClause)
    every = m.clause(A.EveryClause)
    sev = m.clause(A.SeverityClause)
    msg = m.clause(A.MessageClause)
    mute = m.clause(A.MuteClause)
    by = m.clause(A.ByClause)
    kind, test, duration_ms, threshold = _trigger_kind(trig)
    metric = compile_metric(trig) if isinstance(trig, A.MetricTrigger) else None
    trigger_pattern = _trigger_pattern(trig)
    patterns = [trigger_pattern] if trigger_pattern else []
    if metric:
        patterns.extend(a.pattern for a in metric.aggs)
    if kind == "duration":
        patterns.append(Pattern("execution.started", "execution", True))
    if until:
        patterns.append(Pattern.of(until.pattern))
    key, key_values, key_fields, expected = _key(m, kind, scopes, by)
    return CompiledMonitor(
        name=mdef.name, file=mdef.file, line=mdef.line, source=mdef.source, kind=kind,
        summary=format_trigger(trig),
        patterns=tuple(dict.fromkeys(patterns)), trigger=trigger_pattern, scopes=scopes,
        where=exprs.condition(where.condition) if where else None, test=test,
        key=key, key_values=key_values, key_fields=key_fields,
        until=Pattern.of(until.pattern) if until else None,
        until_where=exprs.condition(until.where) if until and until.where else None,
        every_ms=_ms(every.interval) if every else None,
        for_ms=_ms(_dur(m.clause(A.ForClause))), keep_ms=_ms(_dur(m.clause(A.KeepFiringClause))),
        within_ms=_ms(trig.within) if isinstance(trig, A.AbsenceTrigger) else 0,
        duration_ms=duration_ms, metric=metric,
        threshold=threshold, expected_keys=expected, routes=routes_of(m, ruleset),
        severity=sev.level if sev else DEFAULT_SEVERITY, message=msg.text.value if msg else None,
        labels=tuple((c.name, c.value.value) for c in m.clauses_of(A.LabelClause)),
        mute=mute.schedule.value if mute else None,
        disabled=m.clause(A.DisabledClause) is not None, multi_scope=len(scopes) > 1,
    )


def _dur(clause: Any) -> A.Duration | None:
    return clause.duration if clause is not None else None


def _scopes(m: A.Monitor) -> tuple[Scope, ...]:
    merged: dict[str, list[str]] = {}
    for c in m.clauses_of(A.OnClause):
        merged.setdefault(c.scope, []).extend(v.value for v in c.values)
    return tuple(Scope(k, tuple(dict.fromkeys(v))) for k, v in merged.items())


def _trigger_pattern(trig: A.Trigger) -> Pattern | None:
    if isinstance(trig, (A.EventTrigger, A.AbsenceTrigger)):
        return Pattern.of(trig.pattern)
    if isinstance(trig, A.ComparisonTrigger):
        return Pattern(f"{trig.family}.*", trig.family, False)
    return None


def _trigger_kind(trig: A.Trigger) -> tuple[str, exprs.Cond | None, int, float | None]:
    """(kind, comparison test, duration-timer ms, threshold)."""
    if isinstance(trig, A.EventTrigger):
        return "event", None, 0, None
    if isinstance(trig, A.AbsenceTrigger):
        return "absence", None, 0, None
    if isinstance(trig, A.MetricTrigger):
        return "metric", None, 0, None
    compare = A.Compare(trig.op, trig.field, trig.value)
    test = exprs.condition(compare)
    is_lit, const = exprs.literal(trig.value)
    threshold = const if is_lit and isinstance(const, (int, float)) else None
    if trig.field.parts == ("execution", "duration") and trig.op in (">=", ">") \
            and threshold is not None:
        return "duration", test, int(threshold * 1000), threshold
    return "comparison", test, 0, threshold


def _key(m: A.Monitor, kind: str, scopes: tuple[Scope, ...], by: A.ByClause | None
         ) -> tuple[KeyFn, KeyValuesFn, tuple[str, ...], tuple[dict, ...]]:
    """The alert key function, its values function, its field names, and the keys
    expected from `on` clauses."""
    if by is not None:
        names = tuple(p.dotted for p in by.fields)
        getters = [(p.dotted, key_field(p.parts)) for p in by.fields]
        if len(getters) == 1:
            name, get = getters[0]

            def one(ev: dict, fam: str) -> tuple | None:
                v = get(ev, fam)
                return (v,) if v is None or type(v) is str or type(v) is int else None
            return (lambda ev, fam: {name: get(ev, fam)}), one, names, ()
        funcs = [g for _, g in getters]
        return ((lambda ev, fam: {n: g(ev, fam) for n, g in getters}),
                (lambda ev, fam: cacheable(tuple([g(ev, fam) for g in funcs]))), names, ())
    if kind == "metric":
        return (lambda ev, fam: {}), (lambda ev, fam: ()), (), ()
    if kind == "absence" and scopes:
        return _scope_key(scopes)
    return default_key, default_key_values, ("instance", "flow"), ()


def _scope_key(scopes: tuple[Scope, ...]
               ) -> tuple[KeyFn, KeyValuesFn, tuple[str, ...], tuple[dict, ...]]:
    """An absence trigger with `on` keys on those scopes, valued as written in the
    clause, so `on flow "Sync", "Import"` expects exactly {flow: Sync} and {flow: Import}."""
    names = tuple(s.kind for s in scopes)

    def key(ev: dict, fam: str) -> dict:
        return {s.kind: s.match(ev) for s in scopes}

    if len(scopes) == 1:
        match = scopes[0].match
        values: KeyValuesFn = lambda ev, fam: (match(ev),)
    else:
        values = lambda ev, fam: tuple([s.match(ev) for s in scopes])

    expected: list[dict] = [{}]
    for s in scopes:
        expected = [{**e, s.kind: v} for e in expected for v in s.values]
    return key, values, names, tuple(expected)
