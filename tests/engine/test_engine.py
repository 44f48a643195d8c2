"""The Engine facade: live evaluation, people's acts, silences, reloads, snapshots."""

from __future__ import annotations

import json
from datetime import timedelta

from engine import Engine, Silence, replay
from tests.engine.support import BASE, at, ev, rows, rules

ESCALATING = ('monitor "m" when execution.failed notify email "a@example.com" '
              'escalate to email "lead@example.com" after 30m')


def test_escalation_fires_once_when_unacknowledged() -> None:
    engine = Engine(rules(ESCALATING), now=BASE)
    engine.process(ev("execution.failed", "00:00:00"))
    assert rows(engine.tick(at("02:00:00"))) == [("00:30:00", "m", "escalated", "I1", "Sync")]


def test_no_escalation_or_repeat_after_acknowledgement() -> None:
    engine = Engine(rules(ESCALATING), now=BASE)
    [fired] = engine.process(ev("execution.failed", "00:00:00"))
    alert = engine.acknowledge(fired.alert_id, by="ana", at=at("00:10:00"), comment="on it")
    assert alert is not None and alert.acknowledged and alert.acknowledged_by == "ana"
    assert engine.process(ev("execution.failed", "00:20:00")) == []
    assert engine.tick(at("02:00:00")) == []
    assert engine.alert(fired.alert_id).count == 2
    assert engine.acknowledge("nope", by="ana", at=at("00:10:00")) is None


def test_clear_resolves_by_hand_and_notifies() -> None:
    engine = Engine(rules(ESCALATING), now=BASE)
    [fired] = engine.process(ev("execution.failed", "00:00:00"))
    [resolved] = engine.clear(fired.alert_id, by="bo", at=at("00:05:00"), comment="fixed")
    assert (resolved.kind, resolved.at, resolved.targets) == ("resolved", at("00:05:00"), ["email:a@example.com"])
    alert = engine.alert(fired.alert_id)
    assert (alert.status, alert.resolved_by) == ("resolved", "bo")
    assert engine.tick(at("02:00:00")) == []  # the escalation died with the alert
    assert engine.clear(fired.alert_id, by="bo", at=at("00:06:00")) == []


def test_cleared_metric_alert_fires_again_only_after_its_condition_was_false() -> None:
    engine = Engine(rules('monitor "m" when count(login.failed) >= 1 over 1m'), now=BASE)
    [fired] = engine.process(ev("login.failed", "00:00:00"))
    engine.clear(fired.alert_id, by="bo", at=at("00:00:10"))
    assert engine.process(ev("login.failed", "00:00:20")) == []
    assert engine.tick(at("00:01:30")) == []  # window emptied: the latch is released
    assert rows(engine.process(ev("login.failed", "00:02:00"))) == [("00:02:00", "m", "fired")]


def test_silence_mutes_matching_alerts_until_it_ends() -> None:
    engine = Engine(rules('monitor "m" when execution.failed notify email "a@example.com"'), now=BASE)
    engine.set_silences([Silence("s1", {"monitor": "m", "flow": "Sync"}, ends_at=at("01:00:00"))])
    out = engine.process(ev("execution.failed", "00:10:00"))
    out += engine.process(ev("execution.failed", "00:20:00", flow="Other"))
    out += engine.tick(at("02:00:00"))
    assert rows(out) == [("00:10:00", "m", "fired", "I1", "Sync", "muted"),
                         ("00:20:00", "m", "fired", "I1", "Other"),
                         ("01:00:00", "m", "fired", "I1", "Sync")]  # the held notification


def test_deleting_a_silence_sends_the_waiting_notification_at_the_next_tick() -> None:
    engine = Engine(rules('monitor "m" when execution.failed'), now=BASE)
    engine.set_silences([Silence("s1", {"monitor": "m"}, ends_at=at("05:00:00"))])
    engine.process(ev("execution.failed", "00:10:00"))
    engine.tick(at("00:15:00"))
    engine.set_silences([])
    assert rows(engine.tick(at("00:15:01"))) == [("00:15:00", "m", "fired", "I1", "Sync")]


def test_late_event_counts_at_its_own_time_while_the_window_holds_it() -> None:
    engine = Engine(rules('monitor "m" when count(login.failed) >= 3 over 1m'), now=BASE)
    out = []
    for clock in ("00:00:30", "00:00:50", "00:00:40"):
        out += engine.process(ev("login.failed", clock))
    assert rows(out) == [("00:00:50", "m", "fired")]  # evaluated at the clock, 00:00:50
    engine2 = Engine(rules('monitor "m" when count(login.failed) >= 3 over 1m'), now=BASE)
    out = []
    for clock in ("00:01:30", "00:01:50", "00:00:10"):  # 00:00:10 left the window already
        out += engine2.process(ev("login.failed", clock))
    assert out == []


def test_replay_equals_live_evaluation_with_ticks() -> None:
    text = ('monitor "a" when no execution.completed within 5m every 7m\n'
            'monitor "b" when count(execution.failed) >= 2 over 3m for 1m keep firing for 2m\n'
            'monitor "c" when execution.duration >= 90s escalate to email "x@example.com" after 4m')
    events = [ev("execution.started", f"00:{m:02d}:00", execution={"id": f"E{m}"}) for m in range(0, 30, 4)]
    events += [ev("execution.failed", f"00:{m:02d}:30", execution={"id": f"E{m}", "duration": 100})
               for m in range(0, 12, 4)]
    events += [ev("execution.completed", "00:20:00", instance="I2")]
    events.sort(key=lambda e: e["time"])
    expected = replay(rules(text), events, until=at("01:00:00"), start=BASE)
    engine = Engine(rules(text), now=BASE)
    live, pending, t = [], list(events), BASE
    while t <= at("01:00:00"):
        while pending and pending[0]["time"] <= t.isoformat().replace("+00:00", ".000Z"):
            live += engine.process(pending.pop(0))
        live += engine.tick(t)
        t += timedelta(seconds=1)
    assert [a.to_dict() for a in live] == [a.to_dict() for a in expected]
    assert len({a.id for a in expected}) == len(expected) > 5


def test_snapshot_restore_continues_like_never_stopping() -> None:
    text = ('monitor "a" when no execution.completed within 5m\n'
            'monitor "b" when count(execution.failed) >= 2 over 10m for 1m\n'
            'monitor "c" when execution.duration >= 3m every 2m')
    events = [ev("execution.completed", "00:01:00"), ev("execution.started", "00:02:00", execution={"id": "E"}),
              ev("execution.failed", "00:03:00"), ev("execution.failed", "00:03:30"),
              ev("execution.completed", "00:20:00")]
    ruleset = rules(text)
    straight = Engine(ruleset, now=BASE)
    first = [a for e in events for a in straight.process(e)] + straight.tick(at("00:40:00"))
    halted = Engine(ruleset, now=BASE)
    before = [a for e in events[:4] for a in halted.process(e)]
    snap = json.loads(json.dumps(halted.snapshot()))
    resumed = Engine.restore(ruleset, snap, now=at("00:03:40"))
    after = [a for e in events[4:] for a in resumed.process(e)] + resumed.tick(at("00:40:00"))
    assert [a.to_dict() for a in before + after] == [a.to_dict() for a in first]
    assert sorted(a.id for a in resumed.alerts()) == sorted(a.id for a in straight.alerts())


def test_reload_keeps_unchanged_monitors_and_drops_the_rest() -> None:
    old = rules('monitor "a" when no execution.completed within 5m\nmonitor "b" when execution.failed')
    engine = Engine(old, now=BASE)
    engine.process(ev("execution.completed", "00:00:00"))
    engine.process(ev("execution.failed", "00:00:01"))
    new = rules('monitor "a" when no execution.completed within 5m\n'
                'monitor "b" when execution.failed severity critical\nmonitor "c" when log.written')
    engine.reload(new, now=at("00:01:00"))
    [b_alert] = engine.alerts()  # b changed: its alert was closed silently
    assert (b_alert.monitor, b_alert.status, b_alert.resolved_by) == ("b", "resolved", "rules reload")
    assert rows(engine.tick(at("00:09:00"))) == [("00:05:00", "a", "fired", "I1", "Sync")]
    engine.reload(rules('monitor "c" when log.written'), now=at("00:11:00"))
    assert {a.status for a in engine.alerts()} == {"resolved"} and engine.tick(at("01:00:00")) == []


def test_alerts_and_summaries() -> None:
    engine = Engine(rules('group "Ops" { email "a@example.com" }\n'
                          'monitor "m" when execution.failed notify group "Ops" label team "core"\n'
                          'when log.written disabled'), now=BASE)
    [fired] = engine.process(ev("execution.failed", "00:00:01"))
    alert = engine.alert(fired.alert_id).to_dict()
    assert alert["status"] == "firing" and alert["labels"] == {"team": "core"}
    assert alert["fired_at"] == "2026-01-05T00:00:01.000Z" and alert["count"] == 1
    assert alert["key"] == {"instance": "I1", "flow": "Sync"} and alert["last_event"]["type"] == "execution.failed"
    assert [a.id for a in engine.drain_changes()] == [fired.alert_id] and engine.drain_changes() == []
    summaries = {s["name"]: s for s in engine.monitor_summaries()}
    assert summaries["m"]["targets"] == ["email:a@example.com"] and summaries["m"]["open_alerts"] == 1
    assert summaries["m"]["trigger"] == "execution.failed" and summaries["m"]["line"] == 2
    assert summaries["log.written"]["disabled"] is True
    assert fired.to_dict()["destinations"] == [{"kind": "email", "address": "a@example.com", "group": "Ops"}]


def test_event_alert_expiry_is_configurable() -> None:
    engine = Engine(rules('monitor "m" when execution.failed'), now=BASE, event_alert_expiry=timedelta(minutes=5))
    [fired] = engine.process(ev("execution.failed", "00:00:00"))
    assert engine.tick(at("00:06:00")) == []
    assert engine.alert(fired.alert_id).status == "resolved"
    assert rows(engine.process(ev("execution.failed", "00:07:00"))) == [("00:07:00", "m", "fired", "I1", "Sync")]


def test_naive_datetimes_from_a_database_are_utc() -> None:
    engine = Engine(rules('monitor "m" when execution.failed'), now=BASE.replace(tzinfo=None))
    engine.set_silences([Silence("s", {"monitor": "m"}, ends_at=at("00:30:00").replace(tzinfo=None),
                                 starts_at=BASE.replace(tzinfo=None))])
    [fired] = engine.process(ev("execution.failed", "00:10:00"))
    assert fired.muted
    alert = engine.acknowledge(fired.alert_id, by="ana", at=at("00:11:00").replace(tzinfo=None))
    assert alert.to_dict()["acknowledged_at"] == "2026-01-05T00:11:00.000Z"


def test_pending_alert_shows_then_goes_inactive_when_the_condition_fails() -> None:
    engine = Engine(rules('monitor "m" when count(login.failed) >= 2 over 1m for 5m'), now=BASE)
    engine.process(ev("login.failed", "00:00:00"))
    engine.process(ev("login.failed", "00:00:10"))
    [alert] = engine.alerts()
    assert (alert.status, alert.pending_since) == ("pending", at("00:00:10"))
    assert engine.tick(at("00:10:00")) == []
    assert engine.alert(alert.id).status == "inactive"


def test_acknowledged_metric_alert_stops_repeating_but_still_resolves() -> None:
    engine = Engine(rules('monitor "m" when count(login.failed) >= 1 over 10m every 2m'), now=BASE)
    [fired] = engine.process(ev("login.failed", "00:00:00"))
    assert rows(engine.tick(at("00:03:00"))) == [("00:02:00", "m", "repeated")]
    engine.acknowledge(fired.alert_id, by="ana", at=at("00:03:00"))
    assert rows(engine.tick(at("00:20:00"))) == [("00:10:00", "m", "resolved")]


def test_a_silence_that_has_not_started_mutes_nothing() -> None:
    engine = Engine(rules('monitor "m" when execution.failed'), now=BASE)
    engine.set_silences([Silence("s", {"monitor": "m"}, starts_at=at("01:00:00"), ends_at=at("02:00:00"))])
    [early] = engine.process(ev("execution.failed", "00:10:00"))
    [inside] = engine.process(ev("execution.failed", "01:10:00"))
    assert (early.muted, inside.muted) == (False, True)


def test_keys_of_equal_values_but_different_types_stay_apart() -> None:
    # 1 == 1.0 == True in Python, yet they key differently: the key cache must not merge them
    engine = Engine(rules('monitor "m" when order.placed by code'), now=BASE)
    out = []
    for i, code in enumerate([1, True, 1.0, "1", 1, None]):
        out += engine.process(ev("order.placed", f"00:00:0{i}", code=code))
    assert [(ae.kind, ae.key) for ae in out] == [
        ("fired", {"code": 1}), ("fired", {"code": True}), ("fired", {"code": 1.0}),
        ("fired", {"code": "1"}), ("repeated", {"code": 1}), ("fired", {"code": None})]
    assert len({ae.alert_id for ae in out}) == 5
    assert engine.alert_for("m", {"code": 1.0}).id == out[2].alert_id


def test_default_keys_with_numeric_instance_ids(monkeypatch) -> None:
    from engine.triggers import base

    monkeypatch.setattr(base, "KEY_CACHE", 2)  # evictions on the way must not matter
    engine = Engine(rules('monitor "m" when execution.failed'), now=BASE)
    out = []
    for rnd in range(2):
        for i, inst in enumerate([7, "7", 8, "8"]):
            e = ev("execution.failed", f"00:0{rnd}:0{i}")
            e["instance"] = {"id": inst}
            out += engine.process(e)
    assert [(ae.kind, ae.key["instance"]) for ae in out] == [
        ("fired", 7), ("fired", "7"), ("fired", 8), ("fired", "8"),
        ("repeated", 7), ("repeated", "7"), ("repeated", 8), ("repeated", "8")]
    assert out[0].alert_id == out[4].alert_id and out[0].alert_id != out[1].alert_id
