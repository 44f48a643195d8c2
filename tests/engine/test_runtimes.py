"""Each trigger runtime alone, on an `EngineState` and an `AlertBook` (no Engine, no
index): what it decides for events and for its own timers, and its dump / load."""

from __future__ import annotations

import json

import pytest

from engine.alerts import ALERT_HANDLER
from engine.events import to_ms
from engine.model import FIRING, PENDING
from engine.state import Settings
from engine.triggers import TRIGGER_HANDLER, TriggerRuntime
from engine.triggers.absence import AbsenceRuntime
from engine.triggers.event import DurationRuntime, EventRuntime
from engine.triggers.metric import MetricRuntime
from tests.engine.parts import parts
from tests.engine.support import at, ev, rows

X = {"id": "X1"}


@pytest.mark.parametrize("text,cls", [
    ('monitor "m" when execution.failed', EventRuntime),
    ('monitor "m" when log.level >= error', EventRuntime),
    ('monitor "m" when execution.duration >= 10m', DurationRuntime),
    ('monitor "m" when no execution.completed within 10m', AbsenceRuntime),
    ('monitor "m" when count(login.failed) > 1 over 1m', MetricRuntime),
])
def test_each_trigger_form_gets_its_runtime(text: str, cls: type) -> None:
    rt = parts(text).runtimes["m"]
    assert type(rt) is cls and isinstance(rt, TriggerRuntime)


# ------------------------------------------------------------------ event
def test_event_runtime_fires_repeats_and_resolves_on_until() -> None:
    p = parts('monitor "m" when execution.failed where step == "Fetch" until execution.completed')
    out = p.event("m", ev("execution.failed", "00:00:00", step="Fetch"))
    out += p.event("m", ev("execution.failed", "00:01:00", step="Store"))  # where: no
    out += p.event("m", ev("execution.failed", "00:02:00", step="Fetch"))
    out += p.event("m", ev("execution.completed", "00:03:00"))
    out += p.event("m", ev("execution.completed", "00:04:00"))  # nothing open any more
    assert rows(out) == [("00:00:00", "m", "fired", "I1", "Sync"),
                         ("00:02:00", "m", "repeated", "I1", "Sync"),
                         ("00:03:00", "m", "resolved", "I1", "Sync")]
    assert len(p.state.timers) == 0  # with `until`, no expiry


def test_event_runtime_without_until_arms_the_books_expiry() -> None:
    p = parts('monitor "m" when execution.failed', settings=Settings(event_alert_expiry_ms=3_600_000))
    p.event("m", ev("execution.failed", "00:00:00"))
    assert p.timer_kinds() == [(ALERT_HANDLER, "expire")]
    assert p.run_timers("02:00:00") == []
    assert [a.status for a in p.state.store.all()] == ["resolved"]
    assert p.handled == [(ALERT_HANDLER, "expire")]


def test_duration_runtime_fires_a_run_that_never_finishes_at_its_deadline() -> None:
    p = parts('monitor "m" when execution.duration >= 10m')
    p.event("m", ev("execution.started", "00:00:00", execution=X))
    p.event("m", ev("execution.started", "00:01:00", execution={"id": "X2"}))
    p.event("m", ev("execution.completed", "00:05:00", execution={"id": "X2", "duration": 240}))
    assert p.timer_kinds() == [(TRIGGER_HANDLER, "run")]
    out = p.run_timers("00:30:00")
    assert rows(out) == [("00:10:00", "m", "fired", "I1", "Sync")]
    assert (TRIGGER_HANDLER, "run") in p.handled
    assert p.runtimes["m"].runs["X1"]["fired"] is True
    # its late completion does not fire again
    assert p.event("m", ev("execution.completed", "00:40:00", execution={"id": "X1", "duration": 2400})) == []


def test_duration_runtime_continues_from_its_dump() -> None:
    p = parts('monitor "m" when execution.duration >= 10m')
    p.event("m", ev("execution.started", "00:00:00", execution=X))
    saved = json.loads(json.dumps(p.runtimes["m"].dump()))
    q = parts('monitor "m" when execution.duration >= 10m', now="00:05:00", start=False)
    q.runtimes["m"].load(saved)
    assert rows(q.event("m", ev("execution.failed", "00:12:00", execution={"id": "X1", "duration": 720}))) == \
        [("00:12:00", "m", "fired", "I1", "Sync")]


# ---------------------------------------------------------------- absence
ABSENT = 'monitor "m" when no execution.completed within 10m on flow "Sync"'


def test_absence_runtime_expects_named_keys_from_loading() -> None:
    p = parts(ABSENT)
    assert p.timer_kinds() == [(TRIGGER_HANDLER, "absent")]
    assert rows(p.run_timers("00:15:00")) == [("00:10:00", "m", "fired", "Sync")]


def test_absence_runtime_moves_its_deadline_and_resolves_on_the_event() -> None:
    p = parts(ABSENT)
    p.event("m", ev("execution.completed", "00:08:00", instance=None))
    assert p.run_timers("00:15:00") == []  # due at 00:18 now
    out = p.run_timers("00:20:00")
    out += p.event("m", ev("execution.completed", "00:25:00", instance=None))
    assert rows(out) == [("00:18:00", "m", "fired", "Sync"), ("00:25:00", "m", "resolved", "Sync")]
    # the next deadline counts from the resolving event
    [timer] = [p.state.timers.get("absent", "m", kid) for kid in p.runtimes["m"].expected]
    assert timer.deadline == to_ms(at("00:35:00"))


def test_absence_runtime_continues_from_its_dump() -> None:
    p = parts(ABSENT)
    p.event("m", ev("execution.completed", "00:08:00", instance=None))
    saved = json.loads(json.dumps(p.runtimes["m"].dump()))
    q = parts(ABSENT, now="00:09:00", start=False)
    q.runtimes["m"].load(saved)
    q.state.timers.load(json.loads(json.dumps(p.state.timers.dump())), keep={"m"})
    assert rows(q.run_timers("00:20:00")) == [("00:18:00", "m", "fired", "Sync")]


# ----------------------------------------------------------------- metric
def test_metric_runtime_fires_and_its_window_timer_resolves() -> None:
    p = parts('monitor "m" when count(login.failed) >= 2 over 1m')
    out = p.event("m", ev("login.failed", "00:00:00"))
    out += p.event("m", ev("login.failed", "00:00:20"))
    assert rows(out) == [("00:00:20", "m", "fired")]
    assert (TRIGGER_HANDLER, "win") in p.timer_kinds()
    assert rows(p.run_timers("00:05:00")) == [("00:01:00", "m", "resolved")]
    assert p.handled[-1] == (TRIGGER_HANDLER, "win")


def test_metric_runtime_for_goes_pending_then_fires_on_its_timer() -> None:
    p = parts('monitor "m" when count(login.failed) >= 1 over 10m for 2m')
    assert p.event("m", ev("login.failed", "00:00:00")) == []
    [alert] = p.state.store.all()
    assert alert.status == PENDING and (TRIGGER_HANDLER, "for") in p.timer_kinds()
    assert rows(p.run_timers("00:03:00")) == [("00:02:00", "m", "fired")]
    assert alert.status == FIRING


def test_the_warm_up_timer_goes_to_the_metric_runtime() -> None:
    # no `by`: the one series exists from loading; a whole silent window makes it true
    p = parts('monitor "m" when count(order.placed) < 1 over 10m')
    assert p.timer_kinds() == [(TRIGGER_HANDLER, "warm")]
    assert rows(p.run_timers("00:20:00")) == [("00:10:00", "m", "fired")]
    assert p.handled[0] == (TRIGGER_HANDLER, "warm")


def test_a_young_series_is_judged_in_full_once_warm() -> None:
    p = parts('monitor "m" when count(doc.hit) < 2 over 1m by host')
    assert p.event("m", ev("doc.hit", "00:00:10", host="A")) == []  # young: not judged low
    assert (TRIGGER_HANDLER, "warm") in p.timer_kinds()
    out = p.run_timers("00:05:00")
    assert rows(out)[0] == ("00:01:10", "m", "fired", "A")


def test_metric_runtime_continues_from_its_dump() -> None:
    text = 'monitor "m" when count(login.failed) >= 3 over 10m by user'
    p = parts(text)
    p.event("m", ev("login.failed", "00:00:00", user="u"))
    p.event("m", ev("login.failed", "00:01:00", user="u"))
    saved = json.loads(json.dumps(p.runtimes["m"].dump()))
    q = parts(text, now="00:02:00", start=False)
    q.runtimes["m"].load(saved)
    assert rows(q.event("m", ev("login.failed", "00:03:00", user="u"))) == [("00:03:00", "m", "fired", "u")]
    assert q.runtimes["m"].loaded_at == p.runtimes["m"].loaded_at
