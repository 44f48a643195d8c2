"""The engine's parts without an `Engine`: an `EngineState`, an `AlertBook` and the
trigger runtimes on it, driven by hand.

`Parts.event` hands an event straight to one monitor's runtime (no index, no scope
check, no quarantine); `Parts.run_timers` pops due timers and calls the handler each
names, from a table of its own, so a test shows that a part works on the state alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from engine.alerts import ALERT_HANDLER, ESCALATION_HANDLER, AlertBook
from engine.compile import compile_ruleset
from engine.events import event_ms, to_ms
from engine.model import AlertEvent
from engine.state import EngineState, Settings
from engine.timers import Timer
from engine.triggers import TRIGGER_HANDLER, TriggerRuntime, make_runtime
from tests.engine.support import at, rules


@dataclass
class Parts:
    state: EngineState
    book: AlertBook
    runtimes: dict[str, TriggerRuntime]
    handled: list[tuple[str, str]] = field(default_factory=list)  # (handler id, kind) fired

    def handlers(self) -> dict[str, Callable[[Timer], None]]:
        return {ALERT_HANDLER: self.book.on_timer, ESCALATION_HANDLER: self.book.on_escalation,
                TRIGGER_HANDLER: lambda t: self.runtimes[t.monitor].on_timer(t)}

    def run_timers(self, until: str | int, inclusive: bool = True) -> list[AlertEvent]:
        """Fire every timer due by `until` (a clock text or ms) through its handler."""
        until_ms = to_ms(at(until)) if isinstance(until, str) else until
        table = self.handlers()
        while (timer := self.state.timers.pop_due(until_ms, inclusive)) is not None:
            self.state.clock_ms = max(self.state.clock_ms, timer.deadline)
            self.handled.append((timer.handler, timer.kind))
            table[timer.handler](timer)
        self.state.clock_ms = max(self.state.clock_ms, until_ms)
        return self.take()

    def event(self, monitor: str, ev: dict) -> list[AlertEvent]:
        """Timers due before the event, then the event to `monitor`'s runtime."""
        t = event_ms(ev)
        out = self.run_timers(t, inclusive=False)
        self.state.clock_ms = max(self.state.clock_ms, t)
        self.runtimes[monitor].on_event(ev, ev["type"].partition(".")[0], t)
        return out + self.take()

    def take(self) -> list[AlertEvent]:
        out, self.book.out = self.book.out, []
        return out

    def timer_kinds(self) -> list[tuple[str, str]]:
        """(handler id, kind) of the live timers, sorted."""
        return sorted((t[1], t[0]) for t in _live(self.state))


def _live(state: EngineState) -> list[tuple[str, str]]:
    return [(row[1], row[7]) for row in state.timers.dump()["timers"]]


def parts(text: str, now: str = "00:00:00", settings: Settings | None = None,
          start: bool = True) -> Parts:
    """A state at `now` with the monitors of `text` installed, a book and a runtime per
    monitor (started at `now` unless `start` is false)."""
    ruleset = rules(text)
    monitors = compile_ruleset(ruleset)
    state = EngineState.new(to_ms(at(now)), settings=settings)
    state.monitors, state.schedules = monitors, ruleset.schedules
    book = AlertBook(state)
    runtimes = {name: make_runtime(cm, state, book) for name, cm in monitors.items()}
    if start:
        for rt in runtimes.values():
            rt.start(state.clock_ms)
    return Parts(state, book, runtimes)
