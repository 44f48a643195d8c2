"""Snapshots alone: what `snapshot` writes, the state `restore` reads for a rule set
before any engine exists, version 1 snapshots, and an engine built on a restored state."""

from __future__ import annotations

import json

import pytest

from engine import Engine, Silence
from engine.alerts import ALERT_HANDLER, ESCALATION_HANDLER
from engine.events import to_ms
from engine.snapshot import VERSION, restore, snapshot
from engine.state import Settings
from engine.triggers import TRIGGER_HANDLER
from tests.engine.parts import parts
from tests.engine.support import BASE, at, ev, rows, rules

KEPT = ('monitor "esc" when execution.failed escalate to email "lead@example.com" after 30m\n'
        'monitor "rate" when count(order.placed) < 1 over 10m\n')
CHANGED_BEFORE = 'monitor "gone" when no execution.completed within 10m on flow "Sync"\n'
CHANGED_AFTER = 'monitor "gone" when no execution.completed within 20m on flow "Sync"\n'


def snapped(text: str = KEPT + CHANGED_BEFORE, until: str = "00:05:00") -> dict:
    engine = Engine(rules(text), now=BASE)
    engine.process(ev("execution.failed", "00:01:00"))
    engine.tick(at(until))
    engine.set_silences([Silence("s", {"monitor": "none"}, ends_at=at("05:00:00"))])
    return json.loads(json.dumps(engine.snapshot()))


def test_snapshot_writes_the_state_the_runtimes_and_the_faults() -> None:
    p = parts('monitor "m" when no execution.completed within 10m on flow "Sync"')
    p.state.silences = [Silence("s", {"monitor": "m"}, ends_at=at("01:00:00"))]
    snap = snapshot(p.state, p.runtimes, {"m": "sig"}, [])
    assert snap["version"] == VERSION and snap["clock"] == to_ms(BASE)
    assert [row[1:4] + row[7:] for row in snap["timers"]["timers"]] == \
        [["absent", "m", '{"flow":"Sync"}', TRIGGER_HANDLER]]
    assert snap["monitors"]["m"]["signature"] == "sig" and "expected" in snap["monitors"]["m"]["state"]
    assert [s["id"] for s in snap["silences"]] == ["s"] and snap["faults"] == [] and snap["alerts"] == []


def test_restore_reads_the_state_of_unchanged_monitors_without_an_engine() -> None:
    snap = snapped()
    restored = restore(rules(KEPT + CHANGED_AFTER), snap, now=at("00:07:00"),
                       settings=Settings(public_url="http://x"))
    state = restored.state
    assert set(restored.runtimes) == {"esc", "rate"}  # "gone" changed: starts afresh
    assert state.clock_ms == to_ms(at("00:07:00"))  # a fresh monitor counts from `now`
    assert {row[2] for row in state.timers.dump()["timers"]} == {"esc", "rate"}
    assert [a.monitor for a in state.store.all()] == ["esc"]
    assert state.store.drain_changed() == []  # restored alerts are not changes
    assert [s.id for s in state.silences] == ["s"] and state.settings.public_url == "http://x"


def test_restore_keeps_the_snapshot_clock_when_every_monitor_is_kept() -> None:
    restored = restore(rules(KEPT + CHANGED_BEFORE), snapped(), now=at("00:07:00"))
    assert restored.state.clock_ms == to_ms(at("00:05:00"))
    assert set(restored.runtimes) == {"esc", "rate", "gone"}


def test_quarantines_are_kept_only_for_unchanged_monitors() -> None:
    snap = snapped()
    snap["faults"] = [{"monitor": m, "signature": sig, "error": "boom", "stage": "event",
                       "at_ms": 0, "event_id": None, "caused_by": None}
                      for m, sig in (("esc", snap["monitors"]["esc"]["signature"]),
                                     ("gone", snap["monitors"]["gone"]["signature"]))]
    restored = restore(rules(KEPT + CHANGED_AFTER), snap, now=at("00:07:00"))
    assert [f.monitor for f in restored.faults] == ["esc"]
    engine = Engine.from_state(rules(KEPT + CHANGED_AFTER), restored.state, restored.runtimes,
                               restored.faults)
    assert [m["name"] for m in engine.monitor_summaries() if m["error"]] == ["esc"]


def test_an_engine_built_on_a_restored_state_continues_and_starts_the_fresh_monitor() -> None:
    ruleset = rules(KEPT + CHANGED_AFTER)
    restored = restore(ruleset, snapped(), now=at("00:07:00"))
    engine = Engine.from_state(ruleset, restored.state, restored.runtimes, restored.faults)
    assert engine.state is restored.state
    assert rows(engine.tick(at("00:40:00"))) == [
        ("00:10:00", "rate", "fired"),  # loaded at 00:00, kept its warm-up
        ("00:27:00", "gone", "fired", "Sync"),  # 20m after the restore
        ("00:31:00", "esc", "escalated", "I1", "Sync")]


def _as_version_1(snap: dict) -> dict:
    old = dict(snap, version=1)
    old["timers"] = {"seq": snap["timers"]["seq"], "timers": [row[:7] for row in snap["timers"]["timers"]]}
    return old


def test_a_version_1_snapshot_gets_each_timer_its_handler() -> None:
    snap = snapped()
    handlers = {row[1]: row[7] for row in snap["timers"]["timers"]}
    assert handlers == {"esc0": ESCALATION_HANDLER, "expire": ALERT_HANDLER,
                        "warm": TRIGGER_HANDLER, "absent": TRIGGER_HANDLER}
    restored = restore(rules(KEPT + CHANGED_BEFORE), _as_version_1(snap), now=at("00:07:00"))
    assert {row[1]: row[7] for row in restored.state.timers.dump()["timers"]} == handlers


def test_an_engine_restored_from_version_1_goes_on_as_from_version_2() -> None:
    ruleset = rules(KEPT + CHANGED_BEFORE)
    snap = snapped()
    old = Engine.restore(ruleset, _as_version_1(json.loads(json.dumps(snap))), now=at("00:07:00"))
    new = Engine.restore(ruleset, snap, now=at("00:07:00")).tick(at("00:35:00"))
    assert [a.to_dict() for a in old.tick(at("00:35:00"))] == [a.to_dict() for a in new]
    assert rows(new) == [
        ("00:10:00", "rate", "fired"), ("00:10:00", "gone", "fired", "Sync"),
        ("00:20:00", "gone", "repeated", "Sync"), ("00:30:00", "gone", "repeated", "Sync"),
        ("00:31:00", "esc", "escalated", "I1", "Sync")]

def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 3"):
        restore(rules(KEPT), dict(snapped(), version=3), now=at("00:07:00"))
