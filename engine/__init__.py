"""The engine: compiled monitors, their index, windows, timers and alert state.

Pure (no I/O, an injected clock). `Engine` evaluates events and clock ticks; `replay`
runs a rule set over a stream of events (what `tocsin test` and `POST /v1/test` use).
"""

from engine.engine import Engine
from engine.model import Alert, AlertEvent, Destination, Silence
from engine.replay import replay
from engine.store import MemoryStore, Store

__all__ = ["Engine", "replay", "Alert", "AlertEvent", "Destination", "Silence",
           "MemoryStore", "Store"]
