"""Monitor faults: one monitor that cannot be evaluated stops alone.

An exception raised while one monitor handles an event or a timer (its trigger runtime,
its alert transitions) is a bug or a value the engine cannot carry, such as a float sum
that overflows. It must not stop the other monitors, so the engine quarantines the
monitor that raised and records a `MonitorFault`:

- the quarantined monitor is taken out of the index and its timers are skipped; its
  state (alerts, windows, expected keys) is kept as it was, to look at;
- every other monitor goes on, in the same event;
- the fault travels in snapshots, so a restarted evaluator keeps the quarantine;
- a reload that changes or removes the monitor releases it (it starts afresh, as any
  changed monitor does); an unchanged one stays quarantined.

The service also quarantines a monitor whose output it cannot store (`stage` "store":
an integer beyond 64 bits, text with an unpaired surrogate), through
`Engine.quarantine`. Faults are deterministic: replaying the same events into the same
rules quarantines the same monitor at the same event.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

MAX_ERROR_CHARS = 500
MAX_TRACE_CHARS = 4000
STAGES = ("event", "timer", "load", "clear", "store")


@dataclass(frozen=True, slots=True)
class MonitorFault:
    """Why, when and on what a monitor stopped.

    `at_ms` is the engine's logical clock then (the event's time, or the timer's
    deadline; for a late event, the later clock);
    `event_id` the event being evaluated (None for a timer); `caused_by` that event's
    causal chain, so an event the service emits about the fault continues it;
    `signature` the monitor's text when it failed (a reload with another text releases
    it). `trace` is for logs only: it is neither snapshotted nor shown by the API.
    """

    monitor: str
    signature: str
    error: str
    stage: str
    at_ms: int
    event_id: str | None = None
    caused_by: dict[str, Any] | None = None
    trace: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "signature": self.signature, "error": self.error,
                "stage": self.stage, "at_ms": self.at_ms, "event_id": self.event_id,
                "caused_by": self.caused_by}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MonitorFault:
        return cls(d["monitor"], d["signature"], d["error"], d["stage"], d["at_ms"],
                   d.get("event_id"), d.get("caused_by"))


def describe(exc: BaseException) -> str:
    """`OverflowError: intermediate overflow in fsum`, storable and bounded: the text of
    an exception may quote the very value that could not be stored."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return storable_text(text)[:MAX_ERROR_CHARS]


def trace_of(exc: BaseException) -> str:
    """The traceback's last frames (where the bug is), for the log."""
    text = "".join(traceback.format_exception(exc))
    return storable_text(text)[-MAX_TRACE_CHARS:]


def storable_text(text: str) -> str:
    """`text` with unpaired surrogates escaped (`\\ud800`), so it encodes as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def event_fields(event: dict | None) -> tuple[str | None, dict[str, Any] | None]:
    """(id, causal chain) of the event a monitor failed on, as far as it has them."""
    if not isinstance(event, dict):
        return None, None
    eid = event.get("id")
    chain = event.get("caused_by")
    return (eid if isinstance(eid, str) else None), (chain if isinstance(chain, dict) else None)
