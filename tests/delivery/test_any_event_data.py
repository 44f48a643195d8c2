"""Property: whatever the event data (any Unicode, control characters, lone surrogates,
huge or non-finite numbers, missing or oddly typed fields), every shipped monitor's
message through every shipped channel renders into a notification that goes out, with
strict JSON wherever JSON is sent and header values that cannot split a header."""

from __future__ import annotations

import json
import re
from email.policy import SMTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsl
from delivery.request import build_requests
from dsl import ast as A
from engine.model import ALERT_EVENT_KINDS, AlertEvent, Destination
from tests.delivery.rendering import Capture
from tests.delivery.support import FIRED_AT

RULES = Path(__file__).resolve().parents[2] / "rules"
SECRETS = {
    "PD_ROUTING_KEY": "R0UT1NGKEY0000000000000000000000", "SLACK_DEVOPS_PATH": "T0/B0/XX",
    "SLACK_OPS_WEBHOOK": "https://hooks.slack.test/ops", "SLACK_SECURITY_WEBHOOK": "https://hooks.slack.test/sec",
    "ANALYTICS_TOKEN": "analytics-token-1", "ANALYTICS_SIGNING_KEY": "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=",
    "SMS_ACCOUNT_SID": "AC-sid", "SMS_AUTH_TOKEN": "sms-token",
}
CONTROLS = re.compile(rb"[\x00-\x1f\x7f]")


def _load():
    ruleset, _ = dsl.load({p.name: p.read_text(encoding="utf-8") for p in RULES.glob("*.rules")})
    assert ruleset is not None
    return ruleset


SHIPPED = _load()
MONITORS = [
    (m.name, next((c.text.value for c in m.monitor.clauses if isinstance(c, A.MessageClause)), None))
    for m in SHIPPED.monitors
]
DESTINATIONS = [Destination(kind, name) for kind, name in SHIPPED.channels] + [
    Destination("email", "ana@example.com", group="DevOps"), Destination("sms", "+14155550100", group="DevOps"),
]

any_text = st.text(st.characters(exclude_categories=()), max_size=40)
numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, float("inf"), 10**4000]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
named = st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "name": st.one_of(any_text, json_values), "id": st.one_of(any_text, json_values),
    "external_id": any_text, "error": any_text,
}))
events = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "id": any_text, "type": st.one_of(st.sampled_from(["execution.failed", "connection.error"]), any_text),
    "time": any_text, "instance": named, "customer": named, "connection": named,
    "execution": st.one_of(named, st.fixed_dictionaries({"id": any_text, "duration": numbers})),
    "flow": st.one_of(any_text, json_values), "step": st.one_of(any_text, json_values),
    "message": st.one_of(any_text, json_values), "level": any_text, "data": json_values,
}))
keys = st.dictionaries(st.sampled_from(["instance", "flow", "channel", "login_location", "connection.name"]),
                       st.one_of(any_text, st.none(), st.integers()), max_size=3)


def _strict_json(raw: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")
    return json.loads(raw, parse_constant=refuse)


@pytest.fixture(scope="module")
def capture():
    return Capture.make(SECRETS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(monitor=st.sampled_from(MONITORS), destination=st.sampled_from(DESTINATIONS),
       kind=st.sampled_from(ALERT_EVENT_KINDS), event=events, key=keys,
       value=st.one_of(st.none(), numbers), threshold=st.one_of(st.none(), numbers),
       count=st.integers(min_value=1, max_value=10**6))
def test_any_event_data_renders_a_deliverable_notification(capture, monitor, destination, kind, event,
                                                           key, value, threshold, count):
    name, message = monitor
    alert_event = AlertEvent(
        id="ae-1", alert_id="0123456789abcdef01234567", monitor=name, key=key, kind=kind, at=FIRED_AT,
        severity="critical", destinations=(destination,), count=count, value=value, threshold=threshold,
        event=event, labels={"team": "core"}, message=message, fired_at=FIRED_AT,
        resolved_at=FIRED_AT if kind == "resolved" else None,
    )
    (request,) = build_requests(alert_event, SHIPPED, public_url="https://tocsin.example")
    if destination.kind == "email":
        mail, _ = capture.email(request)
        raw = mail.as_bytes(policy=SMTP)
        assert raw and mail["Subject"]
        return
    outcome, sent = capture.send(request)
    assert outcome.state == "sent", (outcome.attempt, outcome.render_warnings)
    assert sent is not None
    for header, header_value in sent.headers.raw:
        assert not CONTROLS.search(header_value), header
    if destination.kind == "sms":
        assert parse_qs(sent.content.decode())["Body"][0].strip()
    else:
        body = _strict_json(sent.content)
        if destination.kind == "slack":
            assert body["text"].strip()
        if destination.kind == "pagerduty" or destination.address == "PagerDuty":
            assert body["event_action"] == ("resolve" if kind == "resolved" else "trigger")
            assert body["dedup_key"] == "0123456789abcdef01234567"
