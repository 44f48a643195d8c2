"""Absence triggers: `no PATTERN within D`.

Expected keys are those named by the monitor's `on` clauses (expected from the moment
the monitor is loaded) and every key seen since. Each has a deadline `last_seen + D`;
when it passes, the alert fires at exactly that time and repeats every `every` (default
D) while firing and unacknowledged. The next matching event resolves it and restarts
the deadline from that event's time. A late event never moves `last_seen` backwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.events import key_id
from engine.model import FIRING
from engine.timers import Timer
from engine.triggers.base import TRIGGER_HANDLER, TriggerRuntime

if TYPE_CHECKING:
    from engine.alerts import AlertBook
    from engine.compile import CompiledMonitor
    from engine.model import Alert
    from engine.state import EngineState


class AbsenceRuntime(TriggerRuntime):
    def __init__(self, cm: CompiledMonitor, state: EngineState, book: AlertBook) -> None:
        super().__init__(cm, state, book)
        self.expected: dict[str, list] = {}  # key id -> [key, last_seen ms]
        # the index routes only the trigger's events when it is all the monitor listens to
        self._routed_only = cm.patterns == (cm.trigger,)

    def start(self, now: int) -> None:
        for key in self.cm.expected_keys:
            self._seen(key, key_id(key), now)

    def _seen(self, key: dict, kid: str, t: int) -> None:
        entry = self.expected.get(kid)
        if entry is None:
            entry = self.expected[kid] = [key, t]
        elif t > entry[1]:
            entry[1] = t
        # one timer per key; when due it moves itself on if the key was seen since
        timers = self.state.timers
        if not timers.has("absent", self.cm.name, kid):
            timers.schedule(TRIGGER_HANDLER, "absent", self.cm.name, kid, entry[1] + self.cm.within_ms)

    def on_event(self, ev: dict, fam: str, t: int) -> None:
        cm = self.cm
        if not self._routed_only and not cm.trigger.matches(ev.get("type", "")):
            return
        if cm.where is not None and not cm.where(ev, fam):
            return
        key, kid, aid = self.keyed(ev, fam)
        self._seen(key, kid, t)
        alert = self.state.store.get(aid)
        if alert is not None and alert.status == FIRING:
            self.book.resolve(cm, alert, t, notify=True, event=ev)

    def on_timer(self, timer: Timer) -> None:
        entry = self.expected.get(timer.key)
        if entry is None:
            return
        cm = self.cm
        due = entry[1] + cm.within_ms
        if due > timer.deadline:
            self.state.timers.schedule(TRIGGER_HANDLER, "absent", cm.name, timer.key, due)
            return
        alert = self.book.open(cm, entry[0], timer.key)
        if alert.status != FIRING:
            self.book.fire(cm, alert, timer.deadline, None,
                           repeat_ms=cm.every_ms or cm.within_ms)

    def on_clear(self, alert: Alert, at: int) -> None:
        kid = key_id(alert.key)
        if kid in self.expected:
            self.expected[kid][1] = at
            self.state.timers.schedule(TRIGGER_HANDLER, "absent", self.cm.name, kid, at + self.cm.within_ms)

    def dump(self) -> dict[str, Any]:
        return {"expected": self.expected}

    def load(self, saved: dict[str, Any]) -> None:
        self.expected = {k: list(v) for k, v in saved.get("expected", {}).items()}
