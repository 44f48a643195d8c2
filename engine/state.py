"""The engine's state: what the alert book and the trigger runtimes read and change.

`Engine` owns one `EngineState` and hands it (with the `AlertBook`) to every part, so
a part can be built and tested on a state of its own, without an engine:

    state = EngineState.new(now_ms)
    book = AlertBook(state)
    runtime = make_runtime(cm, state, book)

The state holds the logical clock, the timer queue, the alert store, the settings, the
silences, and the installed rules the book needs at a timer (the compiled monitors and
the mute schedules). The runtimes' own state (windows, expected keys, runs in flight)
stays in each runtime, with `dump()` / `load()` for snapshots. `store`, `timers` and
`settings` are fixed for a state's life; the engine replaces `silences`, `monitors` and
`schedules` when they change and moves `clock_ms` forward only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Mapping

from engine.model import Silence
from engine.store import MemoryStore, Store
from engine.timers import TimerQueue

if TYPE_CHECKING:
    from dsl.ruleset import Schedule
    from engine.compile import CompiledMonitor

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"
DEFAULT_EVENT_ALERT_EXPIRY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's settings that change what the engine decides."""

    public_url: str = DEFAULT_PUBLIC_URL
    # an event alert without `until` resolves silently this long after its last match
    event_alert_expiry_ms: int = int(DEFAULT_EVENT_ALERT_EXPIRY.total_seconds() * 1000)

    @classmethod
    def of(cls, public_url: str = DEFAULT_PUBLIC_URL,
           event_alert_expiry: timedelta = DEFAULT_EVENT_ALERT_EXPIRY) -> Settings:
        return cls(public_url, int(event_alert_expiry.total_seconds() * 1000))


@dataclass(slots=True, eq=False)
class EngineState:
    """The clock, timers, alerts, settings, silences and installed rules of one engine."""

    clock_ms: int  # the latest event time, tick or deadline seen (logical time)
    store: Store
    timers: TimerQueue
    settings: Settings
    silences: list[Silence] = field(default_factory=list)
    monitors: Mapping[str, CompiledMonitor] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)

    @classmethod
    def new(cls, clock_ms: int, store: Store | None = None,
            settings: Settings | None = None) -> EngineState:
        """A state at `clock_ms` with no timers, no silences and no rules installed
        (an empty `MemoryStore` unless `store` is given)."""
        return cls(clock_ms, store if store is not None else MemoryStore(), TimerQueue(),
                   settings if settings is not None else Settings())
