"""Every kind of alert event has a full context: the engine's alert events carry the
alert's last triggering event, and `$VARS` fill from it or, failing that, the key."""

from __future__ import annotations

import pytest

from delivery.context import build_context, prismatic_vars
from delivery.request import build_requests
from delivery.secrets import Secrets
from delivery.templates import Renderer
from engine import Engine
from tests.engine.support import BASE, at, ev, rules

PAGE = 'webhook "Hook" { url "http://hook.test/" }\n'
TEXT = "$TRIGGER|$INSTANCE|$FLOW|$STEP|$EXECUTION_ID|$CUSTOMER|{{ event.message }}"


def _vars(engine: Engine, alert_event) -> dict[str, str]:
    (request,) = build_requests(alert_event, engine.ruleset, public_url="http://t")
    return prismatic_vars(request)


def _render(engine: Engine, alert_event) -> list[str]:
    (request,) = build_requests(alert_event, engine.ruleset, public_url="http://t")
    return Renderer().render(TEXT, build_context(request, Secrets({})), where="t").split("|")


def _failed(clock: str, **fields):
    return ev("execution.failed", clock, step="Fetch", message="HTTP 503",
              execution={"id": "X1"}, customer={"name": "Acme"}, **fields)


def test_fired_repeated_escalated_resolved_and_cleared_carry_the_last_triggering_event():
    engine = Engine(rules(PAGE + 'monitor "m" when execution.failed until execution.completed '
                          'notify webhook "Hook" escalate to webhook "Hook" after 30m'), now=BASE)
    [fired] = engine.process(_failed("00:00:00"))
    [repeated] = engine.process(_failed("00:01:00"))
    [escalated] = engine.tick(at("00:40:00"))
    [resolved] = engine.process(ev("execution.completed", "00:41:00"))
    expected = ["Execution Failed", "name-I1", "Sync", "Fetch", "X1", "Acme", "HTTP 503"]
    for alert_event in (fired, repeated, escalated, resolved):
        assert alert_event.event is not None, alert_event.kind
        assert _render(engine, alert_event) == expected, alert_event.kind
    [fired_again] = engine.process(_failed("01:00:00"))
    [cleared] = engine.clear(fired_again.alert_id, by="ana", at=at("01:05:00"))
    assert cleared.kind == "resolved" and cleared.event is not None
    assert _render(engine, cleared) == expected


def test_timer_repeats_of_an_absence_alert_fill_from_the_key():
    engine = Engine(rules(PAGE + 'monitor "Export overdue" when no execution.completed within 1h '
                          'on flow "Nightly Export" on instance "Acme Sync" every 30m '
                          'notify webhook "Hook"'), now=BASE)
    fired = engine.tick(at("01:00:01"))
    repeated = engine.tick(at("01:31:00"))
    assert [a.kind for a in fired + repeated] == ["fired", "repeated"]
    for alert_event in fired + repeated:
        v = _vars(engine, alert_event)
        assert (v["TRIGGER"], v["FLOW"], v["INSTANCE"]) == (
            "Execution Overdue", "Nightly Export", "Acme Sync")


@pytest.mark.parametrize(("monitor", "event", "trigger"), [
    ('when execution.failed', ev("execution.failed", "00:00:01"), "Execution Failed"),
    ('when execution.retry_pending', ev("execution.retry_pending", "00:00:01"),
     "Execution Failed, Retry Pending"),
    ("when execution.duration >= 10s", ev("execution.started", "00:00:01", execution={"id": "X9"}),
     "Execution Duration Matched or Exceeded"),
    ('when log.level >= error', ev("log.written", "00:00:01", level="error"),
     "Log Level Matched or Exceeded"),
    ('when connection.error', ev("connection.error", "00:00:01",
                                 connection={"name": "SF", "error": "invalid_grant"}),
     "Connection Threw an Exception"),
    ('when instance.disabled', ev("instance.disabled", "00:00:01"), "Instance Disabled"),
    ('when order.placed', ev("order.placed", "00:00:01"), "m"),  # no Prismatic name
])
def test_trigger_is_prismatics_name_else_the_monitor_name(monitor, event, trigger):
    engine = Engine(rules(PAGE + f'monitor "m" {monitor} notify webhook "Hook"'), now=BASE)
    alert_events = engine.process(event) + engine.tick(at("00:01:00"))
    assert alert_events, monitor
    assert _vars(engine, alert_events[0])["TRIGGER"] == trigger


def test_metric_alert_without_event_fills_flow_from_the_key():
    engine = Engine(rules(PAGE + 'monitor "rate" when count(execution.failed) > 1 over 1h by flow '
                          'notify webhook "Hook"'), now=BASE)
    out = []
    for clock in ("00:00:01", "00:00:02", "00:00:03"):
        out += engine.process(ev("execution.failed", clock))
    out += engine.tick(at("00:00:10"))
    v = _vars(engine, out[0])
    assert v["FLOW"] == "Sync" and v["TRIGGER"] == "rate"
