"""The alert state machine's notifying half: fire, repeat, escalate, resolve, mute.

`AlertBook` turns transitions decided by the trigger runtimes into `AlertEvent`s, with
deterministic ids and logical times, and owns the per-alert timers. It works on an
`EngineState` (the store, the timers, the silences, the installed monitors and mute
schedules) and needs no engine. Its timers carry one of two handler ids:

    esc<i>   ESCALATION_HANDLER, `on_escalation`: `escalate … after`, once per alert
             and clause, unless acknowledged first
    repeat   ALERT_HANDLER, `on_timer`: absence/metric `every` (absence: its interval),
             while firing and unacknowledged
    digest   ALERT_HANDLER: event triggers with `every`: the matches skipped inside the interval
    expire   ALERT_HANDLER: event triggers without `until`: silent resolution after the
             expiry (24 h)
    unmute   ALERT_HANDLER: a muted notification goes out when its mute ends, if still firing

Ids: alert = sha256(monitor, key)[:24]; alert event = sha256(alert id, kind, at, n)[:32]
with `n` counting earlier rounds of that alert at the very same time (normally 0), so
replaying the same events reproduces the same ids.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine.events import from_ms, to_ms
from engine.model import (
    ESCALATED, FIRED, FIRING, INACTIVE, PENDING, REPEATED, RESOLVED, RESOLVED_STATUS, Alert,
    AlertEvent, Destination,
)
from engine.routing import dedupe
from engine.schedules import active_until, is_active
from engine.silences import active as silence_active
from engine.silences import alert_labels
from engine.silences import matches as silence_matches

if TYPE_CHECKING:
    from engine.compile import CompiledMonitor
    from engine.state import EngineState
    from engine.timers import Timer

ALERT_HANDLER = "alert"  # the handler ids of the book's timers (engine/timers.py)
ESCALATION_HANDLER = "escalation"
ALERT_TIMERS = ("repeat", "digest", "expire", "unmute")


@lru_cache(maxsize=4096)  # runtimes cache the ids of their hot keys themselves
def alert_id(monitor: str, kid: str) -> str:
    return hashlib.sha256(f"{monitor}\x00{kid}".encode()).hexdigest()[:24]


class AlertBook:
    """Fires, repeats, escalates, resolves and mutes the alerts of `state.store`; the
    alert events made since the engine last took them wait in `out`."""

    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.out: list[AlertEvent] = []
        self._last_dt: tuple[int, Any] = (0, from_ms(0))

    def dt(self, ms: int) -> Any:
        """`from_ms(ms)`, one shared object per instant (an alert keeps several)."""
        if self._last_dt[0] != ms:
            self._last_dt = (ms, from_ms(ms))
        return self._last_dt[1]

    # ------------------------------------------------------------------ lookup
    def find(self, cm: CompiledMonitor, kid: str, aid: str | None = None) -> Alert | None:
        return self.state.store.get(aid or alert_id(cm.name, kid))

    def open(self, cm: CompiledMonitor, key: dict, kid: str, aid: str | None = None) -> Alert:
        """The alert for this key, created (inactive) if new (`aid`: its id, if known)."""
        aid = aid or alert_id(cm.name, kid)
        alert = self.state.store.get(aid)
        if alert is None:
            alert = Alert(aid, cm.name, key, severity=cm.severity,
                          labels=dict(cm.labels), threshold=cm.threshold)
        return alert

    # ------------------------------------------------------------- transitions
    def pending(self, alert: Alert, at: int) -> None:
        alert.status = PENDING
        alert.pending_since = self.dt(at)
        self.state.store.put(alert)

    def drop_pending(self, alert: Alert) -> None:
        """pending -> back to its last resolution, or `inactive` if it never fired."""
        alert.pending_since = None
        alert.status = RESOLVED_STATUS if alert.resolved_at is not None else INACTIVE
        self.state.store.put(alert)

    def fire(self, cm: CompiledMonitor, alert: Alert, at: int, event: dict | None,
             value: Any = None, repeat_ms: int | None = None) -> None:
        alert.status = FIRING
        alert.fired_at, alert.resolved_at, alert.resolved_by = self.dt(at), None, None
        alert.pending_since = None
        alert.acknowledged, alert.acknowledged_by, alert.acknowledged_at = False, None, None
        alert.comment = None
        alert.count, alert.skipped, alert.escalated, alert.muted_kind = 1, 0, [], None
        self._touch(alert, at, event, value)
        self.emit(cm, alert, FIRED, at, cm.routes.fired, 1, event)
        timers, kid = self.state.timers, alert.id
        for i, (after, _) in enumerate(cm.routes.escalations):
            timers.schedule(ESCALATION_HANDLER, f"esc{i}", cm.name, kid, at + after, i)
        if repeat_ms:
            timers.schedule(ALERT_HANDLER, "repeat", cm.name, kid, at + repeat_ms, repeat_ms)

    def arm_expiry(self, cm: CompiledMonitor, aid: str, at: int) -> None:
        """An event alert without `until` fired at `at`: resolve it silently after the
        expiry (unless already armed; the timer moves itself on to the last match's)."""
        timers = self.state.timers
        if not timers.has("expire", cm.name, aid):
            timers.schedule(ALERT_HANDLER, "expire", cm.name, aid,
                            at + self.state.settings.event_alert_expiry_ms)

    def match(self, cm: CompiledMonitor, alert: Alert, at: int, event: dict) -> None:
        """Another match of an open event alert: `repeated` now, or counted for later."""
        alert.count += 1
        self._touch(alert, at, event, alert.value)
        if alert.acknowledged:
            return
        every = cm.every_ms
        if every is None:
            covered, alert.skipped = alert.skipped + 1, 0  # no digest timer without `every`
            self.emit(cm, alert, REPEATED, at, cm.routes.fired, covered, event)
            return
        last = to_ms(alert.last_notified_at) if alert.last_notified_at else at
        if at >= last + every:
            covered, alert.skipped = alert.skipped + 1, 0
            self.state.timers.cancel("digest", cm.name, alert.id)
            self.emit(cm, alert, REPEATED, at, cm.routes.fired, covered, event)
        else:
            alert.skipped += 1
            self.state.timers.schedule(ALERT_HANDLER, "digest", cm.name, alert.id, last + cm.every_ms)
            self.state.store.put(alert)

    def resolve(self, cm: CompiledMonitor, alert: Alert, at: int, *, notify: bool,
                event: dict | None = None, by: str | None = None) -> None:
        alert.status = RESOLVED_STATUS
        alert.resolved_at, alert.resolved_by = self.dt(max(at, to_ms(alert.fired_at))), by
        alert.pending_since, alert.muted_kind = None, None
        self._cancel_timers(cm, alert)
        # The notification carries what the alert was about (its last triggering event),
        # not the event that ended it; a clear by a person has no event of its own.
        triggering = alert.last_event if alert.last_event is not None else event
        if event is not None:
            alert.last_event = event
        if notify:
            dests = list(cm.routes.resolved)
            for i in alert.escalated:
                dests.extend(cm.routes.escalations[i][1])
            self.emit(cm, alert, RESOLVED, to_ms(alert.resolved_at), dedupe(dests),
                      alert.count, triggering)
        else:
            self.state.store.put(alert)

    def acknowledge(self, cm: CompiledMonitor, alert: Alert) -> None:
        self._cancel_timers(cm, alert, keep=("expire",))

    def _cancel_timers(self, cm: CompiledMonitor, alert: Alert, keep: tuple = ()) -> None:
        timers = self.state.timers
        for kind in ALERT_TIMERS + tuple(f"esc{i}" for i in range(len(cm.routes.escalations))):
            if kind not in keep:
                timers.cancel(kind, cm.name, alert.id)

    def _touch(self, alert: Alert, at: int, event: dict | None, value: Any) -> None:
        alert.value = value
        if event is not None:
            alert.last_event = event
            alert.last_triggered_at = self.dt(at)

    # ------------------------------------------------------------------ emit
    def emit(self, cm: CompiledMonitor, alert: Alert, kind: str, at: int,
             dests: tuple[Destination, ...] | list[Destination], count: int,
             event: dict | None) -> AlertEvent:
        at_dt = self.dt(at)
        n = alert.same_at + 1 if alert.last_event_at == at_dt else 0
        alert.last_event_at, alert.same_at = at_dt, n
        eid = hashlib.sha256(f"{alert.id}\x00{kind}\x00{at}\x00{n}".encode()).hexdigest()[:32]
        mute_end = self.mute_end(cm, alert, at_dt) if cm.mute or self.state.silences else False
        muted = mute_end is not False
        if kind != RESOLVED:
            alert.last_notified_at = at_dt
            alert.muted_kind = kind if muted else None
            if muted:
                self.state.timers.schedule(ALERT_HANDLER, "unmute", cm.name, alert.id, mute_end)
        if event is None:  # timer rounds, clears: the alert's last triggering event
            event = alert.last_event
        # positional, in field order (id, alert_id, monitor, key, kind, at, severity,
        # destinations, count, value, threshold, event, labels, message, fired_at,
        # resolved_at, muted): a quarter cheaper than keywords on this hot path
        ae = AlertEvent(
            eid, alert.id, cm.name, dict(alert.key), kind, at_dt, cm.severity, tuple(dests),
            count, alert.value, alert.threshold, event, dict(cm.labels), cm.message,
            alert.fired_at, alert.resolved_at, muted,
        )
        self.state.store.put(alert)
        self.out.append(ae)
        return ae

    def mute_end(self, cm: CompiledMonitor, alert: Alert, at: Any) -> int | bool:
        """False when not muted at `at`; else when the mute ends (ms; far future if never)."""
        ends: list[int] = []
        schedule = self.state.schedules.get(cm.mute) if cm.mute else None
        if schedule is not None and is_active(schedule, at):
            until = active_until(schedule, at)
            ends.append(to_ms(until) if until else to_ms(at) + 7 * 86_400_000)
        silences = self.state.silences
        if silences:
            labels = alert_labels(cm.name, cm.severity, alert.key, dict(cm.labels))
            for s in silences:
                if silence_active(s, at) and silence_matches(s, labels):
                    ends.append(to_ms(s.ends_at))
        return max(ends) if ends else False

    # ----------------------------------------------------------------- timers
    def _firing(self, timer: Timer) -> tuple[CompiledMonitor, Alert] | None:
        """The monitor and alert of an alert timer, if the alert still fires."""
        state = self.state
        cm = state.monitors.get(timer.monitor)
        alert = state.store.get(timer.key)
        if cm is None or alert is None or alert.status != FIRING:
            return None
        return cm, alert

    def on_timer(self, timer: Timer) -> None:
        """A `repeat`, `digest`, `expire` or `unmute` timer is due."""
        found = self._firing(timer)
        if found is None:
            return
        cm, alert = found
        at, timers = timer.deadline, self.state.timers
        if timer.kind == "expire":
            due = to_ms(alert.last_triggered_at) + self.state.settings.event_alert_expiry_ms \
                if alert.last_triggered_at else at
            if due > at:
                timers.schedule(ALERT_HANDLER, "expire", cm.name, alert.id, due)
            else:
                self.resolve(cm, alert, at, notify=False)
        elif alert.acknowledged:
            return
        elif timer.kind == "repeat":
            self.emit(cm, alert, REPEATED, at, cm.routes.fired, 1, alert.last_event)
            timers.schedule(ALERT_HANDLER, "repeat", cm.name, alert.id, at + timer.data, timer.data)
        elif timer.kind == "digest" and alert.skipped:
            covered, alert.skipped = alert.skipped, 0
            self.emit(cm, alert, REPEATED, at, cm.routes.fired, covered, alert.last_event)
        elif timer.kind == "unmute":
            self._unmute(cm, alert, at)

    def on_escalation(self, timer: Timer) -> None:
        """An `esc<i>` timer is due: escalate by clause `timer.data` (its index), once."""
        found = self._firing(timer)
        if found is None:
            return
        cm, alert = found
        index = timer.data
        if alert.acknowledged or index in alert.escalated:
            return
        alert.escalated.append(index)
        self.emit(cm, alert, ESCALATED, timer.deadline, cm.routes.escalations[index][1],
                  alert.count, alert.last_event)

    def _unmute(self, cm: CompiledMonitor, alert: Alert, at: int) -> None:
        kind = alert.muted_kind
        if kind is None:
            return
        end = self.mute_end(cm, alert, from_ms(at))
        if end is not False:
            self.state.timers.schedule(ALERT_HANDLER, "unmute", cm.name, alert.id, end)
            return
        alert.muted_kind = None
        dests = cm.routes.fired
        if kind == ESCALATED:
            dests = dedupe([d for i in alert.escalated for d in cm.routes.escalations[i][1]])
        self.emit(cm, alert, kind, at, dests, alert.count, alert.last_event)
