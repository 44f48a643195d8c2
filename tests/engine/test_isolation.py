"""One monitor that raises is quarantined; every other monitor goes on (engine/faults.py)."""

from __future__ import annotations

import json

import pytest

from engine import Engine
from engine.replay import run
from engine.triggers.event import EventRuntime
from tests.engine.support import BASE, at, ev, rows, rules

# A real failure: a float sum of two 1e308 (each a finite number the API accepts) in one
# window bucket; when that bucket leaves the window, `math.fsum` of it overflows.
OVERFLOW = """\
monitor "Revenue" when sum(data.amount of order.placed) > 0 over 1m notify email "a@example.com"
monitor "Failures" when execution.failed notify email "a@example.com"
"""


def _overflowing() -> list[dict]:
    return [ev("order.placed", "00:00:00", amount=1e308), ev("order.placed", "00:00:00.5", amount=1e308),
            ev("order.placed", "00:00:30", amount=1.0)]


def test_an_overflow_in_one_monitor_quarantines_it_and_the_others_go_on() -> None:
    engine = Engine(rules(OVERFLOW), now=BASE)
    for e in _overflowing():
        engine.process(e)
    out = engine.tick(at("00:02:00"))  # the first bucket leaves the window at 00:01:00
    [fault] = engine.drain_faults()
    assert (fault.monitor, fault.stage, fault.at_ms, fault.event_id) == (
        "Revenue", "timer", int(at("00:01:00").timestamp() * 1000), None)
    assert fault.error == "OverflowError: intermediate overflow in fsum"
    assert "fsum" in fault.trace
    assert set(engine.faults) == {"Revenue"}
    assert out == []
    assert rows(engine.process(ev("execution.failed", "00:03:00"))) == [("00:03:00", "Failures", "fired", "I1", "Sync")]
    assert engine.drain_faults() == []  # reported once


def test_replay_goes_on_past_the_failing_monitor() -> None:
    result = run(rules(OVERFLOW), [*_overflowing(), ev("execution.failed", "00:05:00")], until=None)
    assert [f.monitor for f in result.faults] == ["Revenue"]
    assert ("00:05:00", "Failures", "fired", "I1", "Sync") in rows(result.alert_events)


BUGGY = """\
monitor "A" when execution.failed notify email "a@example.com"
monitor "Buggy" when execution.failed until execution.completed notify email "a@example.com"
monitor "C" when execution.failed notify email "a@example.com"
"""


@pytest.fixture
def buggy(monkeypatch):
    """`Buggy`'s runtime raises on its second event (a bug), after firing on its first."""
    original = EventRuntime.on_event

    def on_event(self, event, fam, t):
        if self.cm.name == "Buggy" and event["id"].startswith("bad"):
            raise KeyError("a bug")
        return original(self, event, fam, t)

    monkeypatch.setattr(EventRuntime, "on_event", on_event)


def test_a_raising_runtime_is_quarantined_within_the_event_and_the_rest_of_the_event_goes_on(buggy) -> None:
    engine = Engine(rules(BUGGY), now=BASE)
    first = engine.process(ev("execution.failed", "00:00:00"))
    assert [ae.monitor for ae in first] == ["A", "Buggy", "C"]
    bad = {**ev("execution.failed", "00:01:00", instance="I2"), "id": "bad-1",
           "caused_by": {"monitors": ["X"], "depth": 1}}
    out = engine.process(bad)
    assert [ae.monitor for ae in out] == ["A", "C"]  # the monitor after the failing one too
    [fault] = engine.drain_faults()
    assert (fault.monitor, fault.stage, fault.event_id, fault.error) == ("Buggy", "event", "bad-1", "KeyError: 'a bug'")
    assert fault.caused_by == {"monitors": ["X"], "depth": 1}
    assert fault.at_ms == int(at("00:01:00").timestamp() * 1000)
    # Quarantined: no more events, no timers; its alert is kept as it was (still firing).
    assert [ae.monitor for ae in engine.process(ev("execution.failed", "00:02:00", instance="I3"))] == ["A", "C"]
    assert engine.process(ev("execution.completed", "00:03:00")) == []
    kept = [a for a in engine.alerts() if a.monitor == "Buggy"]
    assert [a.status for a in kept] == ["firing"]
    assert {s["name"]: s["error"] for s in engine.monitor_summaries()}["Buggy"] == "KeyError: 'a bug'"


def test_a_quarantine_survives_snapshots_and_unchanged_reloads_and_a_changed_reload_releases_it(buggy) -> None:
    ruleset = rules(BUGGY)
    engine = Engine(ruleset, now=BASE)
    engine.process({**ev("execution.failed", "00:00:00"), "id": "bad-1"})
    assert set(engine.faults) == {"Buggy"}
    snap = json.loads(json.dumps(engine.snapshot()))
    restored = Engine.restore(ruleset, snap, now=at("00:05:00"))
    assert set(restored.faults) == {"Buggy"} and restored.drain_faults() == []
    assert [ae.monitor for ae in restored.process(ev("execution.failed", "00:06:00", instance="I9"))] == ["A", "C"]
    restored.reload(ruleset, now=at("00:07:00"))
    assert set(restored.faults) == {"Buggy"}
    changed = rules(BUGGY.replace('until execution.completed notify email "a@example.com"',
                                  'until execution.completed notify email "b@example.com"'))
    restored.reload(changed, now=at("00:08:00"))
    assert restored.faults == {}
    out = restored.process(ev("execution.failed", "00:09:00", instance="I8"))
    assert [ae.monitor for ae in out] == ["A", "Buggy", "C"]
    # A snapshot of another text does not carry the quarantine either.
    assert Engine.restore(changed, snap, now=at("00:10:00")).faults == {}


def test_a_raising_timer_quarantines_its_monitor(monkeypatch) -> None:
    text = ('monitor "Quiet" when no heartbeat.sent within 5m notify email "a@example.com"\n'
            'monitor "Loud" when no heartbeat.sent within 10m notify email "a@example.com"\n')
    from engine.triggers.absence import AbsenceRuntime

    original = AbsenceRuntime.on_timer

    def on_timer(self, timer):
        if self.cm.name == "Quiet":
            raise ZeroDivisionError("division by zero")
        return original(self, timer)

    monkeypatch.setattr(AbsenceRuntime, "on_timer", on_timer)
    result = run(rules(text), [ev("heartbeat.sent", "00:00:00")], until=at("00:15:00"))
    assert rows(result.alert_events) == [("00:10:00", "Loud", "fired", "I1", "Sync")]
    [fault] = result.faults
    assert (fault.monitor, fault.stage, fault.error) == ("Quiet", "timer", "ZeroDivisionError: division by zero")


def test_the_service_quarantines_a_monitor_whose_output_it_cannot_store() -> None:
    engine = Engine(rules(BUGGY), now=BASE)
    trigger = ev("execution.failed", "00:00:00")
    engine.process(trigger)
    fault = engine.quarantine("Buggy", "OverflowError: MongoDB can only handle up to 8-byte ints",
                              stage="store", event=trigger)
    assert fault is not None and fault.event_id == trigger["id"] and fault.stage == "store"
    assert engine.quarantine("Buggy", "again", stage="store") is None
    assert engine.quarantine("nobody", "x", stage="store") is None
    assert [f.monitor for f in engine.drain_faults()] == ["Buggy"]
    assert [ae.monitor for ae in engine.process(ev("execution.failed", "00:01:00", instance="I5"))] == ["A", "C"]


def test_a_person_can_still_clear_a_quarantined_monitors_alert(buggy) -> None:
    engine = Engine(rules(BUGGY), now=BASE)
    fired = {ae.monitor: ae for ae in engine.process(ev("execution.failed", "00:00:00"))}
    engine.process({**ev("execution.failed", "00:01:00"), "id": "bad-2"})
    [resolved] = engine.clear(fired["Buggy"].alert_id, by="ana", at=at("00:02:00"))
    assert (resolved.monitor, resolved.kind) == ("Buggy", "resolved")


def test_a_fault_is_deterministic_so_a_rebuild_reports_the_same_one() -> None:
    events = [*_overflowing(), ev("execution.failed", "00:05:00")]
    first, second = (run(rules(OVERFLOW), [dict(e) for e in events], until=None) for _ in range(2))
    assert first.faults == second.faults and first.alert_events == second.alert_events
