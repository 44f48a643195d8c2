"""The alert book alone, on an `EngineState`: fire, repeat, digest, escalate, resolve,
expire and mute, with the handler ids its timers carry."""

from __future__ import annotations

from engine.alerts import ALERT_HANDLER, ESCALATION_HANDLER
from engine.events import key_id, to_ms
from engine.model import ESCALATED, FIRED, FIRING, INACTIVE, PENDING, REPEATED, RESOLVED, Silence
from engine.state import Settings
from tests.engine.parts import Parts, parts
from tests.engine.support import at, ev, rows

KEY = {"instance": "I1", "flow": "Sync"}
ESCALATING = ('monitor "m" when execution.failed notify email "a@example.com" '
              'escalate to email "lead@example.com" after 30m '
              'escalate to email "boss@example.com" after 1h')


def ms(clock: str) -> int:
    return to_ms(at(clock))


def fired(p: Parts, clock: str = "00:00:00", repeat_ms: int | None = None, event: dict | None = None):
    cm = p.state.monitors["m"]
    alert = p.book.open(cm, KEY, key_id(KEY))
    p.book.fire(cm, alert, ms(clock), event, repeat_ms=repeat_ms)
    return cm, alert


def test_fire_stores_the_alert_and_emits_a_deterministic_fired_event() -> None:
    p, q = parts(ESCALATING), parts(ESCALATING)
    _, alert = fired(p)
    _, again = fired(q)
    [ae] = p.take()
    assert (ae.kind, ae.at, ae.targets, ae.key) == (FIRED, at("00:00:00"), ["email:a@example.com"], KEY)
    assert [ae.id] == [a.id for a in q.take()]  # same inputs, same id
    assert p.state.store.get(alert.id) is alert and alert.status == FIRING


def test_fire_arms_escalations_for_the_escalation_handler_and_repeats_for_the_alert_one() -> None:
    p = parts(ESCALATING)
    fired(p, repeat_ms=600_000)
    assert p.timer_kinds() == [(ALERT_HANDLER, "repeat"), (ESCALATION_HANDLER, "esc0"),
                               (ESCALATION_HANDLER, "esc1")]


def test_escalations_go_out_once_each_to_their_destinations() -> None:
    p = parts(ESCALATING)
    fired(p)
    p.take()
    out = p.run_timers("02:00:00")
    assert [(ae.kind, ae.at, ae.targets) for ae in out] == [
        (ESCALATED, at("00:30:00"), ["email:lead@example.com"]),
        (ESCALATED, at("01:00:00"), ["email:boss@example.com"])]
    assert p.handled == [(ESCALATION_HANDLER, "esc0"), (ESCALATION_HANDLER, "esc1")]
    # a stray second timer for a clause already escalated does nothing
    p.state.timers.schedule(ESCALATION_HANDLER, "esc0", "m", out[0].alert_id, ms("02:10:00"), 0)
    assert p.run_timers("03:00:00") == []


def test_an_acknowledged_alert_is_not_escalated_or_repeated() -> None:
    p = parts(ESCALATING)
    cm, alert = fired(p, repeat_ms=60_000)
    p.take()
    alert.acknowledged = True  # timers that come up anyway send nothing
    assert p.run_timers("00:45:00") == [] and (ESCALATION_HANDLER, "esc0") in p.handled
    p.book.acknowledge(cm, alert)  # and acknowledging cancels them
    assert len(p.state.timers) == 0


def test_repeat_timer_repeats_and_moves_itself_on() -> None:
    p = parts('monitor "m" when execution.failed')
    fired(p, repeat_ms=600_000)
    p.take()
    assert [(ae.kind, ae.at) for ae in p.run_timers("00:25:00")] == \
        [(REPEATED, at("00:10:00")), (REPEATED, at("00:20:00"))]
    assert p.state.timers.get("repeat", "m", p.state.store.all()[0].id).deadline == ms("00:30:00")


def test_matches_inside_every_are_counted_into_one_digest() -> None:
    p = parts('monitor "m" when execution.failed every 1m')
    cm, alert = fired(p)
    for clock in ("00:00:10", "00:00:20"):
        p.book.match(cm, alert, ms(clock), ev("execution.failed", clock))
    assert [ae.kind for ae in p.take()] == [FIRED]
    assert p.timer_kinds() == [(ALERT_HANDLER, "digest")]
    [digest] = p.run_timers("00:05:00")
    assert (digest.kind, digest.at, digest.count) == (REPEATED, at("00:01:00"), 2)


def test_resolve_notifies_the_fired_and_escalated_destinations_and_cancels_timers() -> None:
    p = parts(ESCALATING)
    cm, alert = fired(p, repeat_ms=3_600_000)
    p.run_timers("00:45:00")
    p.book.resolve(cm, alert, ms("00:50:00"), notify=True)
    [resolved] = p.take()
    assert (resolved.kind, resolved.at, resolved.targets) == \
        (RESOLVED, at("00:50:00"), ["email:a@example.com", "email:lead@example.com"])
    assert len(p.state.timers) == 0


def test_expiry_resolves_silently_unless_matched_since() -> None:
    p = parts('monitor "m" when execution.failed', settings=Settings(event_alert_expiry_ms=600_000))
    cm, alert = fired(p, event=ev("execution.failed", "00:00:00"))
    p.book.arm_expiry(cm, alert.id, ms("00:00:00"))
    p.book.match(cm, alert, ms("00:05:00"), ev("execution.failed", "00:05:00"))
    p.take()
    assert p.run_timers("00:12:00") == [] and alert.status == FIRING  # moved on to 00:15
    assert p.run_timers("00:15:00") == []
    assert alert.status == "resolved" and alert.resolved_at == at("00:15:00")
    assert p.handled == [(ALERT_HANDLER, "expire"), (ALERT_HANDLER, "expire")]


def test_a_silence_in_the_state_mutes_and_the_unmute_timer_sends_the_held_event() -> None:
    p = parts('monitor "m" when execution.failed')
    p.state.silences = [Silence("s", {"flow": "Sync"}, ends_at=at("01:00:00"))]
    fired(p)
    assert rows(p.take()) == [("00:00:00", "m", FIRED, "I1", "Sync", "muted")]
    assert p.timer_kinds() == [(ALERT_HANDLER, "unmute")]
    assert rows(p.run_timers("02:00:00")) == [("01:00:00", "m", FIRED, "I1", "Sync")]


def test_a_mute_schedule_of_the_state_mutes_until_it_ends() -> None:
    p = parts('schedule "night" { hours 00:00-00:30 timezone "UTC" }\n'
              'monitor "m" when execution.failed mute during "night"')
    fired(p, "00:10:00")
    assert rows(p.take()) == [("00:10:00", "m", FIRED, "I1", "Sync", "muted")]
    assert rows(p.run_timers("01:00:00")) == [("00:30:00", "m", FIRED, "I1", "Sync")]


def test_pending_and_back() -> None:
    p = parts('monitor "m" when count(login.failed) >= 1 over 1m for 1m')
    cm = p.state.monitors["m"]
    alert = p.book.open(cm, {}, key_id({}))
    p.book.pending(alert, ms("00:00:10"))
    assert (alert.status, alert.pending_since) == (PENDING, at("00:00:10"))
    p.book.drop_pending(alert)
    assert (alert.status, alert.pending_since) == (INACTIVE, None)
    assert p.state.store.drain_changed() == [alert] and p.take() == []

