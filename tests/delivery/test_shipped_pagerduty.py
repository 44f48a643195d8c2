"""The shipped PagerDuty webhook (rules/channels.rules) against the Events API v2 request
shape: a trigger on every firing round and a resolve, keyed by the alert id, on the
resolution (a hard-coded `trigger` would open a new incident instead)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import dsl
from delivery.request import build_requests
from engine.model import AlertEvent, Destination
from tests.delivery.rendering import Capture
from tests.delivery.support import EVENT, FIRED_AT

RULES = Path(__file__).resolve().parents[2] / "rules"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")


def events_v2_problems(body: Any) -> list[str]:
    """Why `body` is not a valid PagerDuty Events API v2 request (empty: it is)."""
    if not isinstance(body, dict):
        return ["not an object"]
    problems = []
    if not isinstance(body.get("routing_key"), str) or not body["routing_key"]:
        problems.append("routing_key missing")
    action = body.get("event_action")
    if action not in ACTIONS:
        problems.append(f"event_action {action!r} not in {ACTIONS}")
    dedup = body.get("dedup_key")
    if action in ("acknowledge", "resolve") and not (isinstance(dedup, str) and dedup):
        problems.append("dedup_key required to acknowledge or resolve")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        problems.append("dedup_key must be a string of at most 255 characters")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return problems + ["payload required to trigger"]
        summary, source = payload.get("summary"), payload.get("source")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            problems.append("payload.summary must be 1..1024 characters")
        if not isinstance(source, str) or not source:
            problems.append("payload.source required")
        if payload.get("severity") not in SEVERITIES:
            problems.append(f"payload.severity {payload.get('severity')!r} not in {SEVERITIES}")
    for link in body.get("links") or []:
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            problems.append("links[].href must be a string")
    return problems


@pytest.fixture(scope="module")
def shipped():
    ruleset, diagnostics = dsl.load({p.name: p.read_text(encoding="utf-8") for p in RULES.glob("*.rules")})
    assert ruleset is not None
    return ruleset


def _round(kind: str, event: dict[str, Any] | None = EVENT) -> AlertEvent:
    return AlertEvent(
        id=f"ae-{kind}", alert_id="0123456789abcdef01234567", monitor="Execution failed",
        key={"instance": "SW5zdGFuY2U6OTk", "flow": "Sync"}, kind=kind, at=FIRED_AT, severity="error",
        destinations=(Destination("webhook", "PagerDuty", group="DevOps"),), count=1, event=event,
        message=None, fired_at=FIRED_AT, resolved_at=FIRED_AT if kind == "resolved" else None,
    )


@pytest.mark.parametrize(("kind", "action"), [
    ("fired", "trigger"), ("repeated", "trigger"), ("escalated", "trigger"), ("resolved", "resolve"),
])
def test_the_shipped_pagerduty_webhook_triggers_and_resolves_by_alert_id(shipped, kind, action):
    capture = Capture.make({"PD_ROUTING_KEY": "R0UT1NGKEY0000000000000000000000"})
    (request,) = build_requests(_round(kind), shipped, public_url="https://tocsin.example")
    outcome, sent = capture.send(request)
    assert outcome.state == "sent" and outcome.render_warnings == ()
    assert str(sent.url) == "https://events.pagerduty.com/v2/enqueue"
    body = json.loads(sent.content)
    assert events_v2_problems(body) == []
    assert body["event_action"] == action
    assert body["dedup_key"] == "0123456789abcdef01234567"
    assert body["payload"]["summary"] == "Execution failed triggered - Acme Salesforce Sync failed to run."
    assert body["payload"]["severity"] == "error"


def test_a_manual_clear_without_any_event_still_resolves(shipped):
    capture = Capture.make({"PD_ROUTING_KEY": "R0UT1NGKEY0000000000000000000000"})
    (request,) = build_requests(_round("resolved", event=None), shipped, public_url="https://t")
    outcome, sent = capture.send(request)
    body = json.loads(sent.content)
    assert outcome.state == "sent" and events_v2_problems(body) == []
    assert body["event_action"] == "resolve"


def test_the_checker_catches_what_pagerduty_would_refuse():
    assert events_v2_problems({"routing_key": "k", "event_action": "trigger", "payload": {}}) != []
    assert events_v2_problems({"routing_key": "k", "event_action": "resolve"}) != []
    assert events_v2_problems({"routing_key": "k", "event_action": "close", "dedup_key": "d"}) != []
