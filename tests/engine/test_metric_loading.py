"""Metric monitors and the time they were loaded: the one series of a monitor without
`by`, the warm-up across snapshots, restores and reloads, and which series are kept."""

from __future__ import annotations

import json

from engine import Engine
from tests.engine.support import BASE, at, ev, rows, rules

LOW = 'monitor "m" when count(doc.hit) < 3 over 30s'


def run_to(engine: Engine, events: list[dict], until: str) -> list[tuple]:
    out = [a for e in events for a in engine.process(e)]
    return rows(out + engine.tick(at(until)))


def test_a_restore_continues_the_warm_up_it_was_in() -> None:
    """Loaded at 00:00, one hit at 00:05 and one at 00:10: the window is judged at
    00:30 (two hits < 3), whether or not the engine was restored at 00:08 in between. A
    restore that forgot the loading would fire at 00:10; one that started a new warm-up
    at 00:38."""
    events = [ev("doc.hit", "00:00:05"), ev("doc.hit", "00:00:10")]
    straight = run_to(Engine(rules(LOW), now=BASE), events, "00:01:00")
    assert straight == [("00:00:30", "m", "fired")]
    halted = Engine(rules(LOW), now=BASE)
    assert halted.process(events[0]) == []
    snap = json.loads(json.dumps(halted.snapshot()))
    resumed = Engine.restore(rules(LOW), snap, now=at("00:00:08"))
    assert run_to(resumed, events[1:], "00:01:00") == straight


def test_a_restore_with_changed_text_loads_the_monitor_anew() -> None:
    halted = Engine(rules(LOW), now=BASE)
    halted.process(ev("doc.hit", "00:00:05"))
    snap = json.loads(json.dumps(halted.snapshot()))
    changed = 'monitor "m" when count(doc.hit) < 4 over 30s'
    resumed = Engine.restore(rules(changed), snap, now=at("00:00:08"))
    assert run_to(resumed, [ev("doc.hit", "00:00:10")], "00:01:00") == [("00:00:38", "m", "fired")]


def test_a_reload_keeps_the_warm_up_of_an_unchanged_monitor_and_restarts_a_changed_one() -> None:
    kept = Engine(rules(LOW), now=BASE)
    kept.process(ev("doc.hit", "00:00:05"))
    kept.reload(rules(LOW), now=at("00:00:20"))
    assert rows(kept.tick(at("00:01:30"))) == [("00:00:30", "m", "fired")]
    changed = Engine(rules(LOW), now=BASE)
    changed.process(ev("doc.hit", "00:00:05"))
    changed.reload(rules('monitor "m" when count(doc.hit) < 2 over 30s'), now=at("00:00:20"))
    assert rows(changed.tick(at("00:01:30"))) == [("00:00:50", "m", "fired")]


def test_a_snapshot_from_before_warm_ups_counts_the_monitor_as_loaded_long_ago() -> None:
    """Such a snapshot may lack the one series (the engine dropped empty ones): it is
    back, warm, and a silent window fires it at the snapshot's clock."""
    text = 'monitor "m" when rate(order.placed) < 0.5 over 10m'
    old = Engine(rules(text), now=at("01:00:00")).snapshot()
    state = old["monitors"]["m"]["state"]
    del state["loaded"]
    state["series"] = {}
    old["timers"]["timers"] = []
    resumed = Engine.restore(rules(text), json.loads(json.dumps(old)), now=at("01:00:05"))
    assert rows(resumed.tick(at("01:00:05"))) == [("01:00:00", "m", "fired")]


def test_without_by_the_series_exists_from_loading_and_is_never_dropped() -> None:
    engine = Engine(rules('monitor "m" when count(doc.hit) > 5 over 30s'), now=BASE)
    assert list(engine.runtimes["m"].series) == ["{}"]
    engine.process(ev("doc.hit", "00:00:01"))
    engine.tick(at("00:05:00"))
    assert list(engine.runtimes["m"].series) == ["{}"]


def test_a_series_that_empties_while_warming_up_waits_to_be_judged() -> None:
    """A late event (before the loading) starts a series that warms up from the loading
    at 01:00 to 01:30; its window empties at 01:20, and it is still judged at 01:30."""
    engine = Engine(rules('monitor "m" when count(doc.hit) < 1 over 30s by host'), now=at("00:01:00"))
    assert engine.process(ev("doc.hit", "00:00:50", host="A")) == []
    assert rows(engine.tick(at("00:02:00"))) == [("00:01:30", "m", "fired", "A")]


def test_series_are_dropped_once_empty_closed_and_warm() -> None:
    """The memory bound: a `by` series whose window empties with its condition false is
    forgotten after its warm-up, however many keys came and went."""
    text = 'monitor "m" when count(doc.hit) >= 1 and count(doc.hit) < 5 over 30s by host'
    engine = Engine(rules(text), now=BASE)
    for i in range(100):
        engine.process(ev("doc.hit", "00:00:01", host=f"h{i}"))
    assert len(engine.runtimes["m"].series) == 100
    assert engine.tick(at("00:00:40")) == []  # judged at 00:00:31: the hit has left
    assert engine.runtimes["m"].series == {}
