"""Replay: a rule set over a stream of events and a clock, alert events collected.

What `tocsin test`, `POST /v1/test` and backtesting share. Events are sorted by time
(stably), the engine starts at `start` (default: the first event's time), each event is
processed (which first fires the timers due before it), and the clock is finally ticked
through `until` (default: the last event's time plus the longest window or interval of
the rule set). Live evaluation of the same events gives the same alert events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from dsl.ruleset import RuleSet
from engine.engine import Engine
from engine.events import event_ms, from_ms
from engine.model import AlertEvent


def replay(ruleset: RuleSet, events: Iterable[dict], *, until: datetime | None,
           start: datetime | None = None, engine: Engine | None = None) -> list[AlertEvent]:
    ordered = sorted(events, key=event_ms)
    if start is None:
        start = from_ms(event_ms(ordered[0])) if ordered else until
    if start is None:
        return []
    engine = engine or Engine(ruleset, now=start)
    out: list[AlertEvent] = []
    for ev in ordered:
        out.extend(engine.process(ev))
    if until is None:
        last = event_ms(ordered[-1]) if ordered else engine.clock_ms
        until = from_ms(last + engine.longest_ms)
    out.extend(engine.tick(until))
    return out
