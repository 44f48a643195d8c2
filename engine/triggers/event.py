"""Event and comparison triggers, and `execution.duration >= D` with its run timer.

A match opens the alert (`fired`) or re-notifies it (`repeated`, throttled by `every`);
it stays open until `until` matches, a person clears it, or it expires silently
`event_alert_expiry` after its last match. The duration form also arms a timer at
`execution.started` + D, so a run that never finishes still fires; a run whose start
was missed fires on its completed/failed event if the reported duration is enough; each
execution fires at most once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.alerts import alert_id
from engine.events import key_id
from engine.model import FIRING
from engine.timers import Timer
from engine.triggers.base import TRIGGER_HANDLER, TriggerRuntime

if TYPE_CHECKING:
    from engine.alerts import AlertBook
    from engine.compile import CompiledMonitor
    from engine.state import EngineState

STARTED = "execution.started"


class EventRuntime(TriggerRuntime):
    def __init__(self, cm: CompiledMonitor, state: EngineState, book: AlertBook) -> None:
        super().__init__(cm, state, book)
        self._roles: dict[str, tuple[bool, bool]] = {}  # type -> (triggers?, until?)

    def _role(self, etype: str) -> tuple[bool, bool]:
        cm = self.cm
        role = (cm.trigger.matches(etype), cm.until is not None and cm.until.matches(etype))
        if len(self._roles) > 1000:
            self._roles.clear()
        self._roles[etype] = role
        return role

    def on_event(self, ev: dict, fam: str, t: int) -> None:
        cm = self.cm
        etype = ev.get("type", "")
        is_trigger, is_until = self._roles.get(etype) or self._role(etype)
        if is_trigger and (cm.test is None or cm.test(ev, fam)) \
                and (cm.where is None or cm.where(ev, fam)):
            self.trigger(ev, fam, t)
        elif is_until and (cm.until_where is None or cm.until_where(ev, fam)):
            self._until(ev, fam, t)

    def trigger(self, ev: dict, fam: str, t: int, key: dict | None = None) -> None:
        cm = self.cm
        if key is None:
            key, kid, aid = self.keyed(ev, fam)
        else:
            kid = key_id(key)
            aid = alert_id(cm.name, kid)
        alert = self.state.store.get(aid)
        if alert is not None and alert.status == FIRING:
            # a firing alert already has its expiry timer, which moves itself on
            self.book.match(cm, alert, t, ev)
            return
        alert = self.book.open(cm, key, kid, aid) if alert is None else alert
        self.book.fire(cm, alert, t, ev)
        if cm.until is None:
            self.book.arm_expiry(cm, aid, t)

    def _until(self, ev: dict, fam: str, t: int) -> None:
        _, _, aid = self.keyed(ev, fam)
        alert = self.state.store.get(aid)
        if alert is not None and alert.status == FIRING:
            self.book.resolve(self.cm, alert, t, notify=True, event=ev)


class DurationRuntime(EventRuntime):
    """`execution.duration >= D`: runs in flight, by execution id."""

    def __init__(self, cm: CompiledMonitor, state: EngineState, book: AlertBook) -> None:
        super().__init__(cm, state, book)
        self.runs: dict[str, dict] = {}  # execution id -> {start, key, event, fired}

    def on_event(self, ev: dict, fam: str, t: int) -> None:
        etype = ev.get("type", "")
        if etype == STARTED:
            self._started(ev, fam, t)
            return
        exec_id = _exec_id(ev)
        run = self.runs.pop(exec_id, None) if exec_id is not None else None
        if run is not None:
            self.state.timers.cancel("run", self.cm.name, exec_id)
            if run["fired"]:
                if self.cm.until is not None and self.cm.until.matches(etype):
                    super().on_event(ev, fam, t)  # it may still resolve
                return
        super().on_event(ev, fam, t)

    def _started(self, ev: dict, fam: str, t: int) -> None:
        exec_id = _exec_id(ev)
        cm = self.cm
        if exec_id is None or (cm.where is not None and not cm.where(ev, fam)):
            return
        self.runs[exec_id] = {"start": t, "key": self.keyed(ev, fam)[0], "event": ev, "fired": False}
        self.state.timers.schedule(TRIGGER_HANDLER, "run", cm.name, exec_id, t + cm.duration_ms, "fire")

    def on_timer(self, timer: Timer) -> None:
        run = self.runs.get(timer.key)
        if run is None:
            return
        if timer.data == "gc" or run["fired"]:
            del self.runs[timer.key]
            return
        run["fired"] = True
        ev = run["event"]
        self.trigger(ev, "execution", timer.deadline, key=run["key"])
        # a run that never completes is forgotten after the event-alert expiry
        gc_at = run["start"] + max(self.state.settings.event_alert_expiry_ms, self.cm.duration_ms)
        self.state.timers.schedule(TRIGGER_HANDLER, "run", self.cm.name, timer.key, gc_at, "gc")

    def dump(self) -> dict[str, Any]:
        return {"runs": self.runs}

    def load(self, saved: dict[str, Any]) -> None:
        self.runs = dict(saved.get("runs", {}))


def _exec_id(ev: dict) -> str | None:
    ex = ev.get("execution")
    if isinstance(ex, dict):
        i = ex.get("id")
        if i is not None:
            return i if type(i) is str else str(i)
    return None
