"""Per-monitor runtime state, one class per trigger form.

A runtime receives the events the index routed to its monitor (already scope-checked
and free of causal loops) and its own timers, decides transitions and hands them to the
`AlertBook`. Its state is plain data with `dump()` / `load()` for snapshots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.triggers.absence import AbsenceRuntime
from engine.triggers.base import Runtime
from engine.triggers.event import DurationRuntime, EventRuntime
from engine.triggers.metric import MetricRuntime

if TYPE_CHECKING:
    from engine.compile import CompiledMonitor
    from engine.engine import Engine

_KINDS = {"event": EventRuntime, "comparison": EventRuntime, "duration": DurationRuntime,
          "absence": AbsenceRuntime, "metric": MetricRuntime}


def make_runtime(cm: CompiledMonitor, engine: Engine) -> Runtime:
    return _KINDS[cm.kind](cm, engine)


__all__ = ["Runtime", "make_runtime"]
