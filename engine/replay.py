"""Replay: a rule set over a stream of events and a clock, alert events collected.

What `tocsin test`, `POST /v1/test` and backtesting share. Events are sorted by time
(stably); events after `until` are left out; the engine starts at `start` (default: the
first event's time), each event is processed (which first fires the timers due before
it), and the clock is finally ticked through `until` (default: the last event's time
plus the longest window or interval of the rule set). Live evaluation of the same
events gives the same alert events.

Bounds (`ReplayLimits`, for the dry runs): a replay's work grows with its span (timers
repeat every `every`, windows close, absences fire) and with the alert events it makes,
neither of which the number of events bounds. A replay whose span (start to `until`)
is over `max_span_ms` is refused before it starts; one that makes more than
`max_alert_events` alert events (muted ones included: they cost the same) stops as soon
as it passes the limit. Both raise `ReplayTooLarge`. Timers are then fired one
deadline at a time, which gives the same alert events as firing them in one go (an
alert event's time is its timer's deadline, whatever the tick).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from dsl.formatter import format_duration
from dsl.ruleset import RuleSet
from engine.engine import Engine
from engine.events import event_ms, from_ms, to_ms
from engine.faults import MonitorFault
from engine.model import AlertEvent

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class ReplayLimits:
    """The most a dry run may cover: its span in ms, and the alert events it makes."""

    max_span_ms: int = 31 * DAY_MS
    max_alert_events: int = 10_000


class ReplayTooLarge(Exception):
    """A replay beyond `ReplayLimits`; `limit` names the bound ("max_span" or
    "max_alert_events"), `maximum` is its value and the message says what was asked."""

    def __init__(self, limit: str, maximum: int, message: str) -> None:
        super().__init__(message)
        self.limit, self.maximum = limit, maximum


@dataclass(slots=True)
class ReplayResult:
    alert_events: list[AlertEvent] = field(default_factory=list)
    faults: list[MonitorFault] = field(default_factory=list)  # monitors quarantined on the way


def replay(ruleset: RuleSet, events: Iterable[dict], *, until: datetime | None,
           start: datetime | None = None, engine: Engine | None = None,
           limits: ReplayLimits | None = None) -> list[AlertEvent]:
    """The alert events of a replay (see `run`)."""
    return run(ruleset, events, until=until, start=start, engine=engine, limits=limits).alert_events


def run(ruleset: RuleSet, events: Iterable[dict], *, until: datetime | None,
        start: datetime | None = None, engine: Engine | None = None,
        limits: ReplayLimits | None = None) -> ReplayResult:
    """Replay `events`; the result also lists the monitors that failed on the way."""
    ordered = sorted(events, key=event_ms)
    if until is not None:
        end_ms = to_ms(until)
        ordered = [ev for ev in ordered if event_ms(ev) <= end_ms]
    if start is None:
        start = from_ms(event_ms(ordered[0])) if ordered else until
    if start is None:
        return ReplayResult()
    engine = engine or Engine(ruleset, now=start)
    if until is None:
        last = event_ms(ordered[-1]) if ordered else engine.clock_ms
        until = from_ms(last + engine.longest_ms)
    result = ReplayResult()
    if limits is None:
        for ev in ordered:
            result.alert_events.extend(engine.process(ev))
        result.alert_events.extend(engine.tick(until))
    else:
        check_span(limits, to_ms(start), to_ms(until))
        _bounded(engine, ordered, to_ms(until), limits, result.alert_events)
    result.faults = engine.drain_faults()
    return result


def check_span(limits: ReplayLimits, start_ms: int, end_ms: int) -> None:
    """Raise `ReplayTooLarge` when `start_ms` to `end_ms` is longer than allowed."""
    if end_ms - start_ms > limits.max_span_ms:
        raise ReplayTooLarge(
            "max_span", limits.max_span_ms,
            f"the replay would span {format_duration((end_ms - start_ms) / 1000)} (from the first event "
            f"to `until`, by default the last event plus the longest window or interval), "
            f"more than the maximum of {format_duration(limits.max_span_ms / 1000)}")


def _bounded(engine: Engine, ordered: list[dict], end_ms: int, limits: ReplayLimits,
             out: list[AlertEvent]) -> None:
    """The replay, counting alert events after every timer deadline and every event."""
    most = limits.max_alert_events
    for ev in ordered:
        _fire_until(engine, event_ms(ev), False, out, most)
        out.extend(engine.process(ev))
        _check_count(out, most)
    _fire_until(engine, end_ms, True, out, most)
    out.extend(engine.tick(from_ms(end_ms)))
    _check_count(out, most)


def _fire_until(engine: Engine, until_ms: int, inclusive: bool, out: list[AlertEvent],
                most: int) -> None:
    """Fire the timers due before `until_ms` (or at it, if `inclusive`), one deadline at
    a time. Stale heap entries (cancelled timers) are dropped by the tick that meets them."""
    heap = engine.timers.heap
    while heap and (heap[0][0] < until_ms or (inclusive and heap[0][0] == until_ms)):
        out.extend(engine.tick(from_ms(heap[0][0])))
        _check_count(out, most)


def _check_count(out: list[AlertEvent], most: int) -> None:
    if len(out) > most:
        raise ReplayTooLarge("max_alert_events", most,
                             f"the replay made more than {most} alert events")
