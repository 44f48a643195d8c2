"""Golden files: the standard texts of every channel for every kind of alert event.

Each case is a monitor of `RULES`, an alert event and what every channel sends for it
without a `message` template: the e-mail subject and plain-text body, the SMS body, the
Slack body and the PagerDuty event. The files live in `tests/delivery/golden/`; after
an intended change, rewrite them with `TOCSIN_UPDATE_GOLDEN=1 pytest tests/delivery/test_default_texts.py`
and read the diff (docs/delivery.md § Standard texts shows some of them).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

import dsl
from dsl import ast as A
from delivery.request import build_requests
from delivery.texts import format_number, format_value
from engine.model import AlertEvent, Destination
from tests.delivery.rendering import Capture, plain_text
from tests.delivery.support import FIRED_AT

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TOCSIN_UPDATE_GOLDEN") == "1"

RULES = '''
slack "ops" { url "http://hooks.test/ops" }
pagerduty "core" { routing_key "rk-123" url "http://pd.test/v2/enqueue" }

monitor "Execution failed" when execution.failed
  until execution.completed
  notify slack "ops"
  severity critical

monitor "Export overdue" when no execution.completed within 1h5m
  on flow "Nightly Export"
  on instance "Acme Salesforce Sync"
  notify slack "ops"

monitor "Sync failure rate" when count(execution.failed) / count(execution.*) > 10% and count(execution.*) >= 20 over 1h
  by flow
  notify slack "ops"
  severity critical

monitor "Connection error" when connection.error
  by instance, connection.name
  notify slack "ops"
  severity critical

monitor "Slow sync" when execution.duration >= 10s
  notify slack "ops"
  severity warning
'''

FAILED_EVENT = {
    "id": "ev-1", "type": "execution.failed", "time": "2026-11-22T07:30:00.125Z",
    "instance": {"id": "SW5zdGFuY2U6OTk", "name": "Acme Salesforce Sync"},
    "customer": {"name": "Acme", "external_id": "acme-42"},
    "flow": "Sync", "step": "Fetch orders", "execution": {"id": "RXhlYzox"},
    "message": "HTTP 503 from Salesforce:\nService Unavailable",
}
CONNECTION_EVENT = {
    "id": "ev-2", "type": "connection.error", "time": "2026-11-22T07:30:00.125Z",
    "instance": {"id": "SW5zdGFuY2U6OTk", "name": "Acme Salesforce Sync"},
    "connection": {"name": "Salesforce OAuth", "error": "invalid_grant: token expired"},
}
STARTED_EVENT = {
    "id": "ev-3", "type": "execution.started", "time": "2026-11-22T07:30:00.125Z",
    "instance": {"id": "SW5zdGFuY2U6OTk", "name": "Acme Salesforce Sync"},
    "flow": "Import Orders", "execution": {"id": "RXhlYzoy"},
}

# (case name, monitor, kind, key, event, count, value, threshold)
CASES: list[tuple[str, str, str, dict[str, Any], dict[str, Any] | None, int, Any, Any]] = [
    ("execution_failed.fired", "Execution failed", "fired",
     {"instance": "SW5zdGFuY2U6OTk", "flow": "Sync"}, FAILED_EVENT, 1, None, None),
    ("execution_failed.repeated", "Execution failed", "repeated",
     {"instance": "SW5zdGFuY2U6OTk", "flow": "Sync"}, FAILED_EVENT, 3, None, None),
    ("execution_failed.escalated", "Execution failed", "escalated",
     {"instance": "SW5zdGFuY2U6OTk", "flow": "Sync"}, FAILED_EVENT, 4, None, None),
    ("execution_failed.resolved", "Execution failed", "resolved",
     {"instance": "SW5zdGFuY2U6OTk", "flow": "Sync"}, FAILED_EVENT, 4, None, None),
    ("export_overdue.fired", "Export overdue", "fired",
     {"flow": "Nightly Export", "instance": "Acme Salesforce Sync"}, None, 1, None, None),
    ("sync_failure_rate.fired", "Sync failure rate", "fired",
     {"flow": "Sync"}, None, 1, 0.2537313432835821, 0.1),
    ("sync_failure_rate.resolved", "Sync failure rate", "resolved",
     {"flow": "Sync"}, None, 1, 0.04, 0.1),
    ("connection_error.fired", "Connection error", "fired",
     {"instance": "SW5zdGFuY2U6OTk", "connection.name": "Salesforce OAuth"}, CONNECTION_EVENT, 1, None, None),
    ("slow_sync.fired", "Slow sync", "fired",
     {"instance": "SW5zdGFuY2U6OTk", "flow": "Import Orders"}, STARTED_EVENT, 1, 12.3456, 10),
]
CHANNELS = (Destination("email", "ana@example.com", group="DevOps"),
            Destination("sms", "+14155550100", group="DevOps"),
            Destination("slack", "ops"), Destination("pagerduty", "core"))


@pytest.fixture(scope="module")
def rules():
    ruleset, diagnostics = dsl.load({"golden.rules": RULES})
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    return ruleset


def alert_event(monitor: str, kind: str, key: dict[str, Any], event: dict[str, Any] | None,
                count: int, value: Any, threshold: Any, severity: str) -> AlertEvent:
    return AlertEvent(
        id=f"ae-{monitor}-{kind}".replace(" ", "-"), alert_id="0123456789abcdef01234567",
        monitor=monitor, key=key, kind=kind, at=FIRED_AT, severity=severity,
        destinations=CHANNELS, count=count, value=value, threshold=threshold, event=event,
        fired_at=FIRED_AT,
        resolved_at=FIRED_AT + timedelta(minutes=12) if kind == "resolved" else None,
    )


def render_case(rules, case: tuple) -> tuple[str, list[str]]:
    """Everything the four channels send for one case, as one readable text."""
    _, monitor, kind, key, event, count, value, threshold = case
    definition = next(m for m in rules.monitors if m.name == monitor)
    sev = next((c.level for c in definition.monitor.clauses if isinstance(c, A.SeverityClause)), "error")
    requests = build_requests(alert_event(monitor, kind, key, event, count, value, threshold, sev),
                              rules, public_url="https://tocsin.example")
    capture = Capture.make()
    out: list[str] = []
    warnings: list[str] = []
    for request in requests:
        if request.kind == "email":
            message, w = capture.email(request)
            warnings += w
            out += ["== email ==", f"Subject: {message['Subject']}", "", plain_text(message).rstrip("\n")]
            continue
        outcome, sent = capture.send(request)
        assert outcome.state == "sent", outcome.attempt
        warnings += list(outcome.render_warnings)
        assert sent is not None
        if request.kind == "sms":
            body = parse_qs(sent.content.decode())["Body"][0]
            out += ["", "== sms ==", body]
        else:
            data = json.loads(sent.content)
            out += ["", f"== {request.kind} ==", json.dumps(data, indent=2, ensure_ascii=False)]
    return "\n".join(out) + "\n", warnings


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_standard_texts_match_the_golden_files(rules, case):
    text, warnings = render_case(rules, case)
    assert warnings == []
    path = GOLDEN / f"{case[0]}.txt"
    if UPDATE or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_one_severity_tag_keys_as_people_write_them_and_percentages(rules):
    fired, _ = render_case(rules, CASES[0])
    assert "Subject: [critical] Execution failed: Acme Salesforce Sync, flow Sync" in fired
    assert fired.count("[critical] [critical]") == 0
    assert "HTTP 503 from Salesforce: Service Unavailable" in fired.split("== sms ==")[1]
    rate, _ = render_case(rules, CASES[5])
    assert "flow=Sync" in rate and "{'flow'" not in rate
    assert "25.4% (threshold 10%)" in rate
    overdue, _ = render_case(rules, CASES[4])
    assert "Acme Salesforce Sync, flow Nightly Export" in overdue.split("== sms ==")[1]
    connection, _ = render_case(rules, CASES[7])
    assert "invalid_grant: token expired" in connection.split("== sms ==")[1]


@pytest.mark.parametrize(("value", "text"), [
    (None, ""), (3, "3"), (3.0, "3"), (0.25, "0.25"), (0.0083, "0.0083"), (12.3456, "12.3"),
    (1234.56, "1235"), (1e20, "1e+20"), (float("inf"), "∞"), (float("nan"), "NaN"),
    (2e-7, "2e-07"), (True, "True"),
])
def test_numbers_are_rounded_for_people(value, text):
    assert format_number(value) == text


def test_values_in_the_unit_of_their_monitor():
    assert format_value(0.2537, "percent") == "25.4%"
    assert format_value(0.1, "percent") == "10%"
    assert format_value(12.5, "seconds") == "12.5 s"
    assert format_value(7, None) == "7"
