"""Per-monitor runtime state, one class per trigger form.

A runtime receives the events the index routed to its monitor (already scope-checked
and free of causal loops) and its own timers, decides transitions and hands them to the
`AlertBook`. Its state is plain data with `dump()` / `load()` for snapshots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.triggers.absence import AbsenceRuntime
from engine.triggers.base import TRIGGER_HANDLER, TriggerRuntime
from engine.triggers.event import DurationRuntime, EventRuntime
from engine.triggers.metric import MetricRuntime

if TYPE_CHECKING:
    from engine.alerts import AlertBook
    from engine.compile import CompiledMonitor
    from engine.state import EngineState

_KINDS = {"event": EventRuntime, "comparison": EventRuntime, "duration": DurationRuntime,
          "absence": AbsenceRuntime, "metric": MetricRuntime}


def make_runtime(cm: CompiledMonitor, state: EngineState, book: AlertBook) -> TriggerRuntime:
    """The runtime of `cm`'s trigger form, on `state`, handing transitions to `book`."""
    return _KINDS[cm.kind](cm, state, book)


__all__ = ["TRIGGER_HANDLER", "TriggerRuntime", "make_runtime"]
