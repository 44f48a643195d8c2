"""The engine's complete state as JSON, and the state rebuilt from it.

A snapshot holds the clock, every timer (with its handler id), every alert (with its
bookkeeping), each monitor's runtime state (windows, expected keys, runs in flight,
dedup counters) under the monitor's signature, the silences and the quarantined
monitors. `restore` reads one for a rule set into a `Restored`: the `EngineState`
first, then what each monitor whose signature is unchanged keeps (its runtime state,
its quarantine); `Engine.from_state` builds the engine from it. Other monitors start
fresh at `max(clock, now)`, as after a reload at that time.

Version 1 snapshots (before timers named their handler) are read too: their timer
kinds map to handlers by the names version 1 used (`_V1_HANDLERS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from engine.alerts import ALERT_HANDLER, ALERT_TIMERS, ESCALATION_HANDLER
from engine.events import to_ms
from engine.faults import MonitorFault
from engine.model import Alert, Silence
from engine.state import EngineState, Settings
from engine.store import MemoryStore, Store
from engine.timers import TimerQueue
from engine.triggers import TRIGGER_HANDLER

if TYPE_CHECKING:
    from dsl.ruleset import MonitorDef, RuleSet
    from engine.triggers import TriggerRuntime

VERSION = 2  # 2: each timer row ends with its handler id
READABLE = (1, 2)


def signature(mdef: MonitorDef) -> str:
    """What must be unchanged for a reload or a restore to keep a monitor's state: its
    normalized text (the AST's text form when the rule set carries none)."""
    return mdef.source or repr(mdef.monitor)


@dataclass(frozen=True, slots=True)
class Restored:
    """A snapshot read for a rule set: the engine state, and what the monitors whose
    signature is unchanged keep."""

    state: EngineState
    runtimes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> `dump()`
    faults: list[MonitorFault] = field(default_factory=list)  # their quarantines


def snapshot(state: EngineState, runtimes: Mapping[str, TriggerRuntime],
             signatures: Mapping[str, str], faults: Iterable[MonitorFault]) -> dict[str, Any]:
    """The snapshot of an engine's state, its monitors' runtimes and quarantines."""
    return {
        "version": VERSION,
        "clock": state.clock_ms,
        "timers": state.timers.dump(),
        "alerts": [a.dump() for a in state.store.all()],
        "monitors": {
            name: {"signature": signatures[name], "state": rt.dump()}
            for name, rt in runtimes.items()
        },
        "silences": [s.to_dict() for s in state.silences],
        "faults": [f.to_dict() for f in faults],
    }


def restore(ruleset: RuleSet, snap: dict[str, Any], *, now: datetime,
            store: Store | None = None, settings: Settings | None = None) -> Restored:
    """The state `snap` holds for `ruleset` (alerts go into `store`, a new
    `MemoryStore` by default); ValueError for a snapshot version it cannot read.

    The restored state takes `snap` over: its alerts and runtime states share the
    snapshot's lists and dicts (no copy of a large snapshot), so restoring the same
    snapshot twice needs a copy of it."""
    version = snap.get("version")
    if version not in READABLE:
        raise ValueError(f"snapshot version {version!r} is not one of {READABLE}")
    signatures = {m.name: signature(m) for m in ruleset.monitors}
    saved = snap.get("monitors", {})
    keep = {name for name, row in saved.items() if signatures.get(name) == row["signature"]}
    timers = TimerQueue()
    timers.load(snap["timers"] if version == VERSION else _v1_timers(snap["timers"]), keep)
    store = store if store is not None else MemoryStore()
    for row in snap.get("alerts", ()):
        if row["monitor"] in keep:
            store.put(Alert.load(row))
    store.drain_changed()
    clock = snap["clock"]
    if set(signatures) - keep:  # monitors that start fresh count from `now`
        clock = max(clock, to_ms(now))
    state = EngineState(clock, store, timers, settings if settings is not None else Settings(),
                        [Silence.from_dict(s) for s in snap.get("silences", ())])
    faults = [f for f in map(MonitorFault.from_dict, snap.get("faults", ()))
              if signatures.get(f.monitor) == f.signature]
    return Restored(state, {name: saved[name]["state"] for name in keep}, faults)


# The timer kinds of version 1 and their handlers: `esc<i>` were escalations, the
# alert book's own kinds its timers, everything else a trigger runtime's.
_V1_HANDLERS = {kind: ALERT_HANDLER for kind in ALERT_TIMERS}


def _v1_handler(kind: str) -> str:
    if kind in _V1_HANDLERS:
        return _V1_HANDLERS[kind]
    return ESCALATION_HANDLER if kind[:3] == "esc" and kind[3:].isdigit() else TRIGGER_HANDLER


def _v1_timers(d: dict[str, Any]) -> dict[str, Any]:
    return {"seq": d["seq"], "timers": [[*row, _v1_handler(row[1])] for row in d["timers"]]}
