"""The engine's complete state as JSON, and an engine rebuilt from it.

A snapshot holds the clock, every timer, every alert (with its bookkeeping), each
monitor's runtime state (windows, expected keys, runs in flight, dedup counters) under
the monitor's signature, and the silences. Restoring with a rule set keeps the state of
monitors whose signature is unchanged; others start fresh, as after a reload.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.events import from_ms
from engine.model import Alert, Silence

if TYPE_CHECKING:
    from engine.engine import Engine

VERSION = 1


def snapshot(engine: Engine) -> dict[str, Any]:
    return {
        "version": VERSION,
        "clock": engine.clock_ms,
        "timers": engine.timers.dump(),
        "alerts": [a.dump() for a in engine.store.all()],
        "monitors": {
            name: {"signature": engine.signatures[name], "state": rt.dump()}
            for name, rt in engine.runtimes.items()
        },
        "silences": [s.to_dict() for s in engine.silences],
    }


def restore(cls: type[Engine], ruleset: Any, snap: dict[str, Any], *, now: datetime,
            **kwargs: Any) -> Engine:
    engine = cls(ruleset, now=from_ms(snap["clock"]), **kwargs)
    saved = snap.get("monitors", {})
    keep = {name for name, rt in engine.runtimes.items()
            if name in saved and saved[name]["signature"] == engine.signatures[name]}
    for name in keep:
        engine.timers.drop_monitor(name)
        engine.runtimes[name].load(saved[name]["state"])
    engine.timers.load(snap["timers"], keep)
    for row in snap.get("alerts", ()):
        if row["monitor"] in keep:
            engine.store.put(Alert.load(row))
    engine.store.drain_changed()
    engine.silences = [Silence.from_dict(s) for s in snap.get("silences", ())]
    fresh = set(engine.runtimes) - keep
    if fresh:  # new monitors count from `now`, like a reload at that time
        from engine.events import to_ms

        engine.clock_ms = max(engine.clock_ms, to_ms(now))
        for name in fresh:
            engine.timers.drop_monitor(name)
            if not engine.monitors[name].disabled:
                engine.runtimes[name].start(engine.clock_ms)
    return engine
