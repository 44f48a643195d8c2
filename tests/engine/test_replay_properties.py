"""Random streams: live evaluation (any tick rate), replay and snapshot/restore agree."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Engine, replay
from engine.events import event_ms
from tests.engine.support import BASE, at, ev, rules

RULES = rules(
    'monitor "fail" when execution.failed every 2m until execution.completed\n'
    'monitor "slow" when execution.duration >= 90s escalate to email "x@example.com" after 3m\n'
    'monitor "gone" when no execution.completed within 4m\n'
    'monitor "burst" when count(execution.failed) >= 3 over 2m by flow for 30s keep firing for 1m every 5m\n'
    'monitor "avg" when avg(duration of execution.completed) > 60s over 5m\n'
)
TYPES = ["execution.started", "execution.completed", "execution.failed"]

event_specs = st.lists(
    st.tuples(st.integers(0, 1800), st.sampled_from(TYPES), st.sampled_from(["A", "B"]),
              st.sampled_from(["I1", "I2"]), st.integers(0, 5), st.integers(0, 200)),
    max_size=40,
)


def _events(specs) -> list[dict]:
    out = []
    for sec, typ, flow, inst, exe, dur in specs:
        clock = f"00:{sec // 60:02d}:{sec % 60:02d}"
        out.append(ev(typ, clock, flow=flow, instance=inst,
                      execution={"id": f"X{exe}", "duration": dur}))
    out.sort(key=event_ms)
    return out


def _live(events: list[dict], step_s: int, end: str) -> list[dict]:
    engine = Engine(RULES, now=BASE)
    out, pending, t = [], list(events), BASE
    while t <= at(end):
        while pending and event_ms(pending[0]) <= event_ms({"time": t}):
            out += engine.process(pending.pop(0))
        out += engine.tick(t)
        t += timedelta(seconds=step_s)
    for e in pending:
        out += engine.process(e)
    out += engine.tick(at(end))
    return [a.to_dict() for a in out]


@settings(max_examples=40, deadline=None)
@given(event_specs, st.integers(1, 97))
def test_live_with_any_tick_rate_equals_replay(specs, step_s) -> None:
    events = _events(specs)
    expected = [a.to_dict() for a in replay(RULES, events, until=at("00:45:00"), start=BASE)]
    end = "00:45:00"
    assert _live(events, step_s, end) == expected
    engine = Engine(RULES, now=BASE)
    rest = [a for e in events for a in engine.process(e)] + engine.tick(at(end))
    assert [a.to_dict() for a in rest] == expected


@settings(max_examples=40, deadline=None)
@given(event_specs, st.integers(0, 40))
def test_snapshot_restore_anywhere_gives_the_same_future(specs, cut) -> None:
    events = _events(specs)
    cut = min(cut, len(events))
    straight = Engine(RULES, now=BASE)
    expected = [a for e in events for a in straight.process(e)] + straight.tick(at("00:45:00"))
    first = Engine(RULES, now=BASE)
    out = [a for e in events[:cut] for a in first.process(e)]
    snap = json.loads(json.dumps(first.snapshot()))
    resumed = Engine.restore(RULES, snap, now=first.now)
    out += [a for e in events[cut:] for a in resumed.process(e)] + resumed.tick(at("00:45:00"))
    assert [a.to_dict() for a in out] == [a.to_dict() for a in expected]
