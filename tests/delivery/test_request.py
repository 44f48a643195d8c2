"""Building delivery requests from alert events and a rule set."""

from __future__ import annotations

import json

from delivery.request import DeliveryRequest, build_requests, delivery_id
from dsl.ruleset import Group
from tests.delivery.support import (
    SECRETS, Destination, PagerDutyChannel, WebhookChannel, alert_event, ruleset,
)

HOOK = WebhookChannel("PagerDuty", url="https://hooks.example.com/{{ secrets.API_TOKEN }}",
                      headers=(("X-A", "b"),), signing_secret="{{ secrets.HOOK_KEY }}",
                      payload={"k": "{{ secrets.PD_ROUTING_KEY }}"})
GROUP = Group("DevOps", members=(("email", "ana@example.com"), ("webhook", "PagerDuty")))


def _build(*destinations, **kw):
    event = alert_event(*destinations, **kw)
    return build_requests(event, ruleset(HOOK, PagerDutyChannel("core", routing_key="rk"),
                                         groups=(GROUP,)), public_url="https://tocsin.example/")


def test_one_request_per_destination_with_deterministic_ids():
    dests = (Destination("email", "ana@example.com", group="DevOps"),
             Destination("webhook", "PagerDuty", group="DevOps"),
             Destination("pagerduty", "core"), Destination("sms", "+15550100"))
    requests = _build(*dests)
    assert [r.destination for r in requests] == [
        {"kind": d.kind, "address": d.address, "group": d.group} for d in dests]
    assert [r.id for r in requests] == [r.id for r in _build(*dests)]
    assert len({r.id for r in requests}) == 4
    assert requests[0].id == delivery_id("ae-1-fired", "email", "ana@example.com")
    assert requests[0].channel is None
    assert requests[1].channel["url"] == HOOK.url and requests[1].channel["headers"] == [["X-A", "b"]]
    assert requests[2].channel["routing_key"] == "rk"
    assert requests[0].group == {"name": "DevOps", "members": [
        {"kind": "email", "value": "ana@example.com"}, {"kind": "webhook", "value": "PagerDuty"}]}
    assert requests[2].group is None


def test_document_and_monitor():
    (request,) = _build(Destination("pagerduty", "core"), kind="resolved")
    doc = request.document
    assert doc["status"] == "resolved" and doc["kind"] == "resolved"
    assert doc["url"] == "https://tocsin.example/alerts/al-123"
    assert doc["resolved_at"] == "2026-11-22T07:30:00.125Z"
    assert request.monitor == {"name": "Sync failures", "severity": "critical", "labels": {"team": "core"},
                               "runbook": None}
    assert request.message_template == "{{ monitor.name }}: {{ event.instance.name }} failed"
    assert request.alert_event_id == "ae-1-resolved" and request.attempt == 1


def test_muted_alert_event_has_no_requests():
    assert _build(Destination("pagerduty", "core"), muted=True) == []


def test_round_trip_through_json_and_no_secret_values():
    requests = _build(Destination("webhook", "PagerDuty"), Destination("email", "a@b.c"))
    for request in requests:
        text = json.dumps(request.to_dict())
        assert DeliveryRequest.from_dict(json.loads(text)) == request
        assert not any(value in text for value in SECRETS.values())


def test_next_attempt_keeps_the_id_and_first_attempt_time():
    (request,) = _build(Destination("pagerduty", "core"))
    second = request.next_attempt("2026-11-22T07:30:01.000Z")
    third = second.next_attempt("2026-11-22T07:30:09.000Z")
    assert (third.id, third.attempt, third.first_attempt_at) == (
        request.id, 3, "2026-11-22T07:30:01.000Z")


def test_channel_missing_from_the_rule_set_fails_the_delivery_at_send_time():
    from tests.delivery.support import attempt_once, make_runtime

    (request,) = _build(Destination("slack", "gone"))
    assert request.channel is None
    outcome = attempt_once(request, make_runtime())
    assert outcome.state == "failed"
    assert "no slack channel named 'gone'" in outcome.attempt["error"]
