"""The interface every trigger runtime implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.events import key_id

if TYPE_CHECKING:
    from engine.alerts import AlertBook
    from engine.compile import CompiledMonitor
    from engine.engine import Engine
    from engine.model import Alert
    from engine.timers import Timer


class Runtime:
    def __init__(self, cm: CompiledMonitor, engine: Engine) -> None:
        self.cm = cm
        self.engine = engine
        self._kids: dict[tuple, str] = {}

    def kid(self, key: dict) -> str:
        """`key_id(key)`, memoized by the key's items (one monitor builds its keys'
        fields in one order, so equal items mean equal keys)."""
        values = tuple(key.items())
        try:
            found = self._kids.get(values)
        except TypeError:  # an unhashable value (a list from `data`)
            return key_id(key)
        if found is None:
            if len(self._kids) >= 50_000:
                self._kids.clear()
            found = self._kids[values] = key_id(key)
        return found

    @property
    def book(self) -> AlertBook:
        return self.engine.book

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

    def load(self, state: dict[str, Any]) -> None:
        pass
