"""The interface every trigger runtime implements, and the per-monitor key cache.

A trigger runtime holds one monitor's evaluation state (windows, expected keys, runs in
flight). It receives the engine's `EngineState` (clock, timers, store, settings) and
the `AlertBook` it hands transitions to, never the engine, so it can be driven alone.
Its timers carry `TRIGGER_HANDLER`: the engine hands them back to the monitor's runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.alerts import alert_id
from engine.events import key_id

if TYPE_CHECKING:
    from engine.alerts import AlertBook
    from engine.compile import CompiledMonitor
    from engine.model import Alert
    from engine.state import EngineState
    from engine.timers import Timer

TRIGGER_HANDLER = "trigger"  # the handler id of the runtimes' own timers (engine/timers.py)

KEY_CACHE = 16_384  # keys per monitor; a monitor keyed by something unbounded just misses

Keyed = tuple  # (key dict, key id, alert id)


class TriggerRuntime:
    """One monitor's trigger evaluation: events and its own timers in, transitions to
    the book out."""

    def __init__(self, cm: CompiledMonitor, state: EngineState, book: AlertBook) -> None:
        self.cm = cm
        self.state = state
        self.book = book
        self._keyed: dict[tuple, Keyed] = {}

    def keyed(self, ev: dict, fam: str) -> Keyed:
        """(key, key id, alert id) of `ev` for this monitor, cached by the key's values
        (`CompiledMonitor.key_values`), so a known key costs one lookup. The key dict is
        shared with the alerts made from it: nobody may change it."""
        cm = self.cm
        values = cm.key_values(ev, fam)
        if values is not None:
            hit = self._keyed.get(values)
            if hit is not None:
                return hit
        key = cm.key(ev, fam)
        kid = key_id(key)
        hit = (key, kid, alert_id(cm.name, kid))
        if values is not None:
            if len(self._keyed) >= KEY_CACHE:
                self._keyed.clear()
            self._keyed[values] = hit
        return hit

    def start(self, now: int) -> None:
        """The monitor was loaded at `now` (ms): arm what must be armed from loading."""

    def on_event(self, ev: dict, fam: str, t: int) -> None:
        raise NotImplementedError

    def on_timer(self, timer: Timer) -> None:
        """One of this monitor's own timers is due (`timer.deadline` is the logical time)."""

    def on_clear(self, alert: Alert, at: int) -> None:
        """A person cleared `alert` at `at`."""

    def dump(self) -> dict[str, Any]:
        return {}

    def load(self, saved: dict[str, Any]) -> None:
        pass
