"""The engine facade: events and clock ticks in, alert events out. Pure: no I/O.

    engine = Engine(ruleset, now=start)
    engine.process(event)   # -> [AlertEvent]: fires timers due before the event, then it
    engine.tick(now)        # -> [AlertEvent]: every timer due at or before `now`

Time is logical: the clock is the latest event time or tick seen, timers carry exact
deadlines, and an alert event's `at` is the time of the event or deadline that caused
it, so live evaluation and replay produce the same alert events with the same ids.

A monitor that raises while it handles an event or a timer is quarantined and the
others go on (engine/faults.py); `drain_faults()` hands the new faults to the caller.

The engine owns one `EngineState` (engine/state.py: clock, timers, alert store,
settings, silences) and passes it, with the `AlertBook`, to each monitor's trigger
runtime; a due timer goes to the handler its handler id names in `_timer_handlers`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping

from dsl.ruleset import RuleSet
from engine import snapshot as snapshots
from engine.alerts import ALERT_HANDLER, ESCALATION_HANDLER, AlertBook, alert_id
from engine.compile import CompiledMonitor, compile_ruleset
from engine.events import event_ms, from_ms, key_id, to_ms
from engine.faults import MonitorFault, describe, event_fields, trace_of
from engine.index import MonitorIndex, Route
from engine.model import FIRING, INACTIVE, PENDING, RESOLVED_STATUS, Alert, AlertEvent, Silence
from engine.snapshot import signature
from engine.state import DEFAULT_EVENT_ALERT_EXPIRY, DEFAULT_PUBLIC_URL, EngineState, Settings
from engine.store import Store
from engine.timers import Timer, TimerQueue
from engine.triggers import TRIGGER_HANDLER, TriggerRuntime, make_runtime

MAX_CAUSAL_DEPTH = 3
RELOADED_BY = "rules reload"  # `resolved_by` of the alerts a reload closes silently


class Engine:
    def __init__(self, ruleset: RuleSet, now: datetime, store: Store | None = None,
                 public_url: str = DEFAULT_PUBLIC_URL,
                 event_alert_expiry: timedelta = DEFAULT_EVENT_ALERT_EXPIRY) -> None:
        self._setup(ruleset, EngineState.new(to_ms(now), store,
                                             Settings.of(public_url, event_alert_expiry)))

    @classmethod
    def from_state(cls, ruleset: RuleSet, state: EngineState,
                   runtimes: Mapping[str, dict] | None = None,
                   faults: Iterable[MonitorFault] = ()) -> Engine:
        """An engine on `state` (its clock, timers, alerts, silences): the monitors named
        in `runtimes` continue from their dumped runtime state, the others start at
        `state.clock_ms`; `faults` are quarantines kept (of unchanged monitors)."""
        engine = cls.__new__(cls)
        engine._setup(ruleset, state, runtimes or {}, faults)
        return engine

    def _setup(self, ruleset: RuleSet, state: EngineState,
               restored: Mapping[str, dict] | None = None,
               faults: Iterable[MonitorFault] = ()) -> None:
        self.state = state
        self.book = AlertBook(state)
        self.runtimes: dict[str, TriggerRuntime] = {}
        self.faults: dict[str, MonitorFault] = {f.monitor: f for f in faults}  # quarantined
        self._new_faults: list[MonitorFault] = []
        # handler id -> what a due timer carrying it goes to (engine/timers.py)
        self._timer_handlers: dict[str, Callable[[Timer], None]] = {
            ALERT_HANDLER: self.book.on_timer,
            ESCALATION_HANDLER: self.book.on_escalation,
            TRIGGER_HANDLER: self._on_trigger_timer,
        }
        self._install(ruleset, compile_ruleset(ruleset), keep=set(), restored=restored or {})

    # ------------------------------------------------------------------ state
    @property
    def clock_ms(self) -> int:
        return self.state.clock_ms

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def timers(self) -> TimerQueue:
        return self.state.timers

    @property
    def silences(self) -> list[Silence]:
        return self.state.silences

    @property
    def settings(self) -> Settings:
        return self.state.settings

    # ----------------------------------------------------------------- rules
    def _install(self, ruleset: RuleSet, monitors: dict[str, CompiledMonitor],
                 keep: set[str], restored: Mapping[str, dict]) -> None:
        """Adopt compiled `monitors`; those named in `keep` keep their runtime, those in
        `restored` continue from that dumped state, the others start now."""
        state = self.state
        self.ruleset = ruleset
        self.monitors = state.monitors = monitors
        state.schedules = ruleset.schedules
        self.signatures = {m.name: signature(m) for m in ruleset.monitors}
        old = self.runtimes
        self.runtimes = {}
        for name, cm in self.monitors.items():
            if name in keep:
                rt = old[name]
                rt.cm = cm
            else:
                rt = make_runtime(cm, state, self.book)
                if name in restored:
                    rt.load(restored[name])
                elif not cm.disabled:
                    try:
                        rt.start(state.clock_ms)
                    except Exception as exc:
                        self._record_fault(name, exc, "load", None)
            self.runtimes[name] = rt
        self._build_index()

    def _build_index(self) -> None:
        """The index over the monitors that are not quarantined."""
        runtimes, faults = self.runtimes, self.faults
        self.index = MonitorIndex([cm for cm in self.monitors.values() if cm.name not in faults],
                                  handler=lambda cm: runtimes[cm.name].on_event)

    def reload(self, ruleset: RuleSet, *, now: datetime) -> None:
        """Swap rules: monitors whose text is unchanged keep alerts, windows and timers;
        the state of removed or changed monitors is dropped."""
        self.state.clock_ms = max(self.state.clock_ms, to_ms(now))
        old_sigs = self.signatures
        keep = {m.name for m in ruleset.monitors if old_sigs.get(m.name) == signature(m)}
        for name in old_sigs:
            if name not in keep:
                self._drop_state(name)
                self.faults.pop(name, None)  # released: a changed monitor starts afresh
        self._install(ruleset, compile_ruleset(ruleset), keep, restored={})

    def _drop_state(self, name: str) -> None:
        """Forget a removed or changed monitor's timers; its open alerts are closed
        silently (resolved_by "rules reload") so a store that persists them sees it."""
        state = self.state
        state.timers.drop_monitor(name)
        now = from_ms(state.clock_ms)
        for alert in list(state.store.all()):
            if alert.monitor == name and alert.status in (FIRING, PENDING):
                alert.status = RESOLVED_STATUS if alert.fired_at else INACTIVE
                alert.resolved_at = now if alert.fired_at else alert.resolved_at
                alert.resolved_by, alert.pending_since, alert.muted_kind = RELOADED_BY, None, None
                state.store.put(alert)

    # ------------------------------------------------------------ evaluation
    def process(self, event: dict) -> list[AlertEvent]:
        """Evaluate one event (an envelope dict with `time`)."""
        t = event_ms(event)
        state = self.state
        heap = state.timers.heap
        if heap and heap[0][0] < t:
            self._advance(t, inclusive=False)
        if t > state.clock_ms:
            state.clock_ms = t
        skip: Iterable[str] = ()
        caused = event.get("caused_by")
        if caused is not None and isinstance(caused, dict):
            if (caused.get("depth") or 0) >= MAX_CAUSAL_DEPTH:
                return self._drain()
            skip = caused.get("monitors") or ()
        fam, route = self.index.route(event)
        # A `try` costs nothing until something raises (Python 3.11): the hot loop stays.
        if skip or route.checked:
            for cm, handle in zip(route.monitors, route.handlers):
                try:
                    if (cm.multi_scope and not cm.in_scope(event)) or (skip and cm.name in skip):
                        continue
                    handle(event, fam, t)
                except Exception as exc:
                    self._failed(cm.name, exc, "event", event)
        else:
            for handle in route.handlers:
                try:
                    handle(event, fam, t)
                except Exception as exc:
                    self._failed(_monitor_of(route, handle), exc, "event", event)
        if not self.book.out:
            return []
        return self._drain()

    def tick(self, now: datetime) -> list[AlertEvent]:
        """Fire every timer due at or before `now`, in deadline order."""
        ms = to_ms(now)
        self._advance(ms, inclusive=True)
        self.state.clock_ms = max(self.state.clock_ms, ms)
        return self._drain()

    def _advance(self, until: int, *, inclusive: bool) -> None:
        state, handlers = self.state, self._timer_handlers
        while True:
            timer = state.timers.pop_due(until, inclusive)
            if timer is None:
                return
            state.clock_ms = max(state.clock_ms, timer.deadline)
            if self.faults and timer.monitor in self.faults:
                continue  # quarantined: its timers are skipped
            try:
                handlers[timer.handler](timer)
            except Exception as exc:
                self._failed(timer.monitor, exc, "timer", None)

    def _on_trigger_timer(self, timer: Timer) -> None:
        """A trigger runtime's own timer: to the runtime of its monitor, if installed."""
        rt = self.runtimes.get(timer.monitor)
        if rt is not None:
            rt.on_timer(timer)

    def _drain(self) -> list[AlertEvent]:
        out, self.book.out = self.book.out, []
        return out

    @property
    def now(self) -> datetime:
        return from_ms(self.state.clock_ms)

    # ----------------------------------------------------------------- faults
    def quarantine(self, monitor: str, error: str, *, stage: str,
                   event: dict | None = None) -> MonitorFault | None:
        """Stop evaluating `monitor` (its state kept) because of `error`; None when it
        is unknown or already quarantined. The service calls this for output it cannot
        store; the engine itself for exceptions (`_failed`)."""
        fault = self._record_fault(monitor, None, stage, event, error=error)
        if fault is not None:
            self._build_index()
        return fault

    def drain_faults(self) -> list[MonitorFault]:
        """Faults recorded since the last call (to report them once)."""
        out, self._new_faults = self._new_faults, []
        return out

    def _failed(self, monitor: str, exc: Exception, stage: str, event: dict | None) -> None:
        if self._record_fault(monitor, exc, stage, event) is not None:
            self._build_index()

    def _record_fault(self, monitor: str, exc: Exception | None, stage: str, event: dict | None,
                      error: str | None = None) -> MonitorFault | None:
        if monitor in self.faults or monitor not in self.monitors:
            return None
        event_id, chain = event_fields(event)
        fault = MonitorFault(monitor, self.signatures.get(monitor, ""),
                             error if error is not None else describe(exc), stage, self.state.clock_ms,
                             event_id, chain, trace_of(exc) if exc is not None else "")
        self.faults[monitor] = fault
        self._new_faults.append(fault)
        return fault

    # ---------------------------------------------------------- people's acts
    def acknowledge(self, alert_id: str, *, by: str, at: datetime,
                    comment: str | None = None) -> Alert | None:
        """Stop repeats and escalations of an open alert. None: unknown alert."""
        alert = self.store.get(alert_id)
        if alert is None:
            return None
        cm = self.monitors.get(alert.monitor)
        if alert.status == FIRING and not alert.acknowledged:
            alert.acknowledged, alert.acknowledged_by = True, by
            alert.acknowledged_at, alert.comment = from_ms(to_ms(at)), comment
            if cm is not None:
                self.book.acknowledge(cm, alert)
            self.store.put(alert)
        return alert

    def clear(self, alert_id: str, *, by: str, at: datetime,
              comment: str | None = None) -> list[AlertEvent]:
        """Resolve an open alert by hand; returns the `resolved` alert event, if any."""
        alert = self.store.get(alert_id)
        cm = self.monitors.get(alert.monitor) if alert else None
        if alert is None or cm is None or alert.status not in (FIRING, PENDING):
            return []
        at_ms = max(to_ms(at), to_ms(alert.fired_at) if alert.fired_at else 0)
        alert.comment = comment
        try:
            if alert.status == PENDING:
                self.book.drop_pending(alert)
            else:
                self.book.resolve(cm, alert, at_ms, notify=True, by=by)
            if cm.name not in self.faults:  # a person may close a quarantined monitor's alert
                self.runtimes[cm.name].on_clear(alert, at_ms)
        except Exception as exc:
            self._failed(cm.name, exc, "clear", None)
        return self._drain()

    def set_silences(self, silences: list[Silence]) -> None:
        """Replace the silences. Muted notifications waiting for a mute to end re-check
        at the next tick (a deleted silence ends its mute then)."""
        state = self.state
        state.silences = [_aware(s) for s in silences]
        for alert in state.store.all():
            if alert.muted_kind and alert.status == FIRING:
                state.timers.schedule(ALERT_HANDLER, "unmute", alert.monitor, alert.id, state.clock_ms)

    # ----------------------------------------------------------------- reading
    def alerts(self) -> list[Alert]:
        return list(self.store.all())

    def alert(self, alert_id: str) -> Alert | None:
        return self.store.get(alert_id)

    def alert_for(self, monitor: str, key: dict) -> Alert | None:
        """The alert of `monitor` for `key`, if any."""
        return self.store.get(alert_id(monitor, key_id(key)))

    def drain_changes(self) -> list[Alert]:
        """Alerts changed since the last call (to persist transitions)."""
        return self.store.drain_changed()

    def monitor_summaries(self) -> list[dict]:
        open_count: dict[str, int] = {}
        for a in self.store.all():
            if a.status in (FIRING, PENDING):
                open_count[a.monitor] = open_count.get(a.monitor, 0) + 1
        return [
            {"name": cm.name, "file": cm.file, "line": cm.line, "trigger": cm.summary,
             "severity": cm.severity, "targets": sorted({d.label for d in cm.routes.fired}),
             "disabled": cm.disabled, "open_alerts": open_count.get(cm.name, 0),
             "error": self.faults[cm.name].error if cm.name in self.faults else None}
            for cm in self.monitors.values()
        ]

    @property
    def longest_ms(self) -> int:
        return max((m.longest_ms for m in self.monitors.values()), default=0)

    # --------------------------------------------------------------- snapshots
    def snapshot(self) -> dict:
        """The engine's complete state as JSON-ready data (engine/snapshot.py)."""
        return snapshots.snapshot(self.state, self.runtimes, self.signatures,
                                  self.faults.values())

    @classmethod
    def restore(cls, ruleset: RuleSet, snapshot: dict, *, now: datetime,
                store: Store | None = None, public_url: str = DEFAULT_PUBLIC_URL,
                event_alert_expiry: timedelta = DEFAULT_EVENT_ALERT_EXPIRY) -> Engine:
        """An engine continuing from `snapshot` (monitors unchanged since keep state):
        the state is read first, then the engine is built on it."""
        restored = snapshots.restore(ruleset, snapshot, now=now, store=store,
                                     settings=Settings.of(public_url, event_alert_expiry))
        return cls.from_state(ruleset, restored.state, restored.runtimes, restored.faults)


def _monitor_of(route: Route, handle: object) -> str:
    """The monitor whose handler `handle` is (by identity; only looked up on failure)."""
    for cm, h in zip(route.monitors, route.handlers):
        if h is handle:
            return cm.name
    raise LookupError("a handler outside its route")  # pragma: no cover - index invariant


def _aware(s: Silence) -> Silence:
    """Silences from a database may carry naive datetimes: they are UTC."""
    from dataclasses import replace

    return replace(s, ends_at=from_ms(to_ms(s.ends_at)),
                   starts_at=from_ms(to_ms(s.starts_at)) if s.starts_at else None)
