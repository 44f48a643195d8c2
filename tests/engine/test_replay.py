"""Replay bounds (engine/replay.py): refused spans, a stopped count, and the same alert
events as an unbounded replay when within the limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from engine import replay
from engine.replay import DAY_MS, ReplayLimits, ReplayTooLarge, run
from tests.engine.support import BASE, at, ev, rows, rules
from tests.engine.test_replay_properties import RULES, _events, event_specs

EVERY_SECOND = rules('monitor "hb" when no heartbeat.sent within 1s every 1s notify email "a@example.com"\n')


def test_a_span_beyond_the_limit_is_refused_before_anything_runs() -> None:
    limits = ReplayLimits(max_span_ms=DAY_MS, max_alert_events=10**9)
    with pytest.raises(ReplayTooLarge) as refused:
        replay(EVERY_SECOND, [ev("heartbeat.sent", "00:00:00")], until=at("1d 00:00:01"), limits=limits)
    assert (refused.value.limit, refused.value.maximum) == ("max_span", DAY_MS)
    assert str(refused.value).startswith("the replay would span 1d1s (from the first event")
    # The default `until` counts too: last event + the longest interval.
    long_window = rules('monitor "w" when count(order.placed) > 100 over 2d notify email "a@example.com"\n')
    with pytest.raises(ReplayTooLarge):
        replay(long_window, [ev("order.placed", "00:00:00")], until=None, limits=limits)
    assert replay(EVERY_SECOND, [ev("heartbeat.sent", "00:00:00")], until=at("00:00:05"), limits=limits)


def test_the_count_stops_the_replay_as_soon_as_it_passes_the_limit() -> None:
    limits = ReplayLimits(max_alert_events=100)
    with pytest.raises(ReplayTooLarge) as stopped:
        replay(EVERY_SECOND, [ev("heartbeat.sent", "00:00:00")], until=at("9d 00:00:00"), limits=limits)
    assert (stopped.value.limit, stopped.value.maximum) == ("max_alert_events", 100)
    within = replay(EVERY_SECOND, [ev("heartbeat.sent", "00:00:00")], until=at("00:01:40"), limits=limits)
    assert len(within) == 100


def test_events_after_until_are_left_out() -> None:
    text = rules('monitor "f" when execution.failed notify email "a@example.com"\n')
    events = [ev("execution.failed", "00:00:00", instance="A"), ev("execution.failed", "00:10:00", instance="B")]
    for limits in (None, ReplayLimits()):
        assert rows(replay(text, events, until=at("00:05:00"), limits=limits)) == [("00:00:00", "f", "fired", "A", "Sync")]
    assert len(replay(text, events, until=at("00:10:00"))) == 2  # an event at `until` is in


@settings(max_examples=40, deadline=None)
@given(event_specs)
def test_a_bounded_replay_gives_the_same_alert_events_as_an_unbounded_one(specs) -> None:
    events = _events(specs)
    unbounded = run(RULES, events, until=at("00:45:00"), start=BASE)
    bounded = run(RULES, events, until=at("00:45:00"), start=BASE, limits=ReplayLimits())
    assert [a.to_dict() for a in bounded.alert_events] == [a.to_dict() for a in unbounded.alert_events]
