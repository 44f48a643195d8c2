"""The timer queue alone: order, replacement, cancellation, handler ids, dump and load."""

from __future__ import annotations

import json

from engine.timers import Timer, TimerQueue


def drain(q: TimerQueue, until: int, inclusive: bool = True) -> list[Timer]:
    out = []
    while (t := q.pop_due(until, inclusive)) is not None:
        out.append(t)
    return out


def test_due_timers_come_in_deadline_then_insertion_order() -> None:
    q = TimerQueue()
    q.schedule("h", "b", "m", "k", 20)
    q.schedule("h", "a", "m", "k", 10)
    q.schedule("h", "c", "m", "k", 20)
    q.schedule("h", "d", "m", "k", 30)
    assert [(t.kind, t.deadline) for t in drain(q, 20)] == [("a", 10), ("b", 20), ("c", 20)]
    assert len(q) == 1


def test_pop_due_exclusive_leaves_the_timer_at_the_limit() -> None:
    q = TimerQueue()
    q.schedule("h", "a", "m", "k", 10)
    assert drain(q, 10, inclusive=False) == []
    assert [t.kind for t in drain(q, 10)] == ["a"]


def test_scheduling_a_name_again_replaces_its_deadline() -> None:
    q = TimerQueue()
    q.schedule("h", "win", "m", "k", 10)
    q.schedule("h", "win", "m", "k", 50)
    assert drain(q, 40) == []
    assert [(t.kind, t.deadline) for t in drain(q, 50)] == [("win", 50)]
    assert len(q) == 0


def test_the_same_deadline_and_data_keeps_the_timer_and_its_place() -> None:
    q = TimerQueue()
    q.schedule("h", "a", "m", "k", 10)
    q.schedule("h", "b", "m", "k", 10)
    q.schedule("h", "a", "m", "k", 10)  # unchanged: still before b
    assert [t.kind for t in drain(q, 10)] == ["a", "b"]


def test_cancel_has_get_and_drop_monitor() -> None:
    q = TimerQueue()
    q.schedule("h1", "for", "m", "k1", 10, "x")
    q.schedule("h1", "for", "m", "k2", 20)
    q.schedule("h2", "for", "n", "k1", 30)
    assert q.has("for", "m", "k1") and not q.has("for", "m", "k3")
    got = q.get("for", "m", "k1")
    assert (got.kind, got.monitor, got.key, got.deadline, got.data, got.handler) == \
        ("for", "m", "k1", 10, "x", "h1")
    q.cancel("for", "m", "k1")
    assert q.get("for", "m", "k1") is None
    q.drop_monitor("m")
    assert [(t.monitor, t.key) for t in drain(q, 100)] == [("n", "k1")]


def test_a_due_timer_carries_the_handler_it_was_scheduled_for() -> None:
    q = TimerQueue()
    q.schedule("alert", "repeat", "m", "a1", 5, 60_000)
    q.schedule("trigger", "warm", "m", "{}", 6)
    assert [(t.handler, t.kind, t.data) for t in drain(q, 10)] == \
        [("alert", "repeat", 60_000), ("trigger", "warm", None)]


def test_rescheduling_for_another_handler_replaces_the_timer() -> None:
    q = TimerQueue()
    q.schedule("h1", "a", "m", "k", 10)
    q.schedule("h2", "a", "m", "k", 10)
    assert [t.handler for t in drain(q, 10)] == ["h2"]


def test_dump_and_load_keep_order_handlers_and_only_kept_monitors() -> None:
    q = TimerQueue()
    q.schedule("alert", "repeat", "m", "a1", 20, 5)
    q.schedule("trigger", "win", "m", "k", 20)
    q.schedule("trigger", "win", "gone", "k", 5)
    q.schedule("alert", "repeat", "m", "a1", 30, 5)  # replaced: not dumped twice
    dumped = json.loads(json.dumps(q.dump()))
    assert len(dumped["timers"]) == 3
    loaded = TimerQueue()
    loaded.load(dumped, keep={"m"})
    assert len(loaded) == 2
    # new timers continue the sequence, so they come after loaded ones at a deadline
    loaded.schedule("trigger", "for", "m", "k", 20)
    assert [(t.handler, t.kind, t.deadline, t.data) for t in drain(loaded, 100)] == \
        [("trigger", "win", 20, None), ("trigger", "for", 20, None), ("alert", "repeat", 30, 5)]
