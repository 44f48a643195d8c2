"""Opsgenie Alert API v2 against a real HTTP receiver: create, close, retries, secrets."""

from __future__ import annotations

from delivery.ledger import MemoryLedger
from delivery.pipeline import attempt
from delivery.preview import Preview
from delivery.request import build_requests
from delivery.secrets import Secrets
from delivery.settings import DeliverySettings
from dsl import load
from dsl.channels.opsgenie import OPSGENIE_API_URL, OpsgenieChannel
from engine.model import Destination
from tests.delivery.support import SECRETS, alert_event, attempt_once, make_runtime, one_request, ruleset

OG_SECRETS = {**SECRETS, "OPSGENIE_KEY": "og-key-5d1e9a7c"}


def test_create_then_close_by_alias(receiver):
    receiver.answer((202, {}, '{"result":"Request will be processed"}'), (202, {}, "{}"))
    channel = OpsgenieChannel("core", api_key="{{ secrets.OPSGENIE_KEY }}", api_url=receiver.url + "/")
    runtime, ledger = make_runtime(OG_SECRETS), MemoryLedger()
    assert attempt_once(one_request(channel, kind="fired"), runtime, ledger=ledger).state == "sent"
    assert attempt_once(one_request(channel, kind="resolved"), runtime, ledger=ledger).state == "sent"
    create, close = receiver.requests
    assert (create.method, create.path) == ("POST", "/v2/alerts")
    assert create.headers["authorization"] == "GenieKey og-key-5d1e9a7c"
    assert create.headers["content-type"] == "application/json"
    body = create.json()
    assert body["message"] == "Sync failures: Acme Salesforce Sync failed"
    assert body["alias"] == "al-123"
    assert body["priority"] == "P1"
    assert body["source"] == "tocsin"
    assert body["entity"] == "Acme Salesforce Sync"
    assert body["description"].startswith("Sync failures: Acme Salesforce Sync failed")
    assert body["description"].endswith("http://tocsin.test/alerts/al-123")
    assert body["details"]["monitor"] == "Sync failures" and body["details"]["flow"] == "Sync"
    assert body["details"]["count"] == "2"
    assert all(isinstance(v, str) for v in body["details"].values())
    assert (close.method, close.path) == ("POST", "/v2/alerts/al-123/close?identifierType=alias")
    assert close.headers["authorization"] == "GenieKey og-key-5d1e9a7c"
    assert close.json()["source"] == "tocsin"


def test_severity_is_the_priority(receiver):
    channel = OpsgenieChannel("core", api_key="k", api_url=receiver.url)
    runtime = make_runtime()
    for severity in ("critical", "error", "warning", "info"):
        attempt_once(one_request(channel, severity=severity, id=f"ae-{severity}"), runtime)
    assert [r.json()["priority"] for r in receiver.requests] == ["P1", "P2", "P3", "P5"]


def test_a_retry_sends_the_same_alias(receiver):
    receiver.answer(503)
    channel = OpsgenieChannel("core", api_key="k", api_url=receiver.url)
    ledger = MemoryLedger()
    request = one_request(channel)
    first = attempt_once(request, make_runtime(), ledger=ledger)
    assert first.attempt["outcome"] == "retry"
    claim = ledger.claim(request.id, now=first.next_attempt_at, lease=60.0, token="second")
    second = attempt(claim, make_runtime())
    assert second.state == "sent"
    assert [r.json()["alias"] for r in receiver.requests] == ["al-123", "al-123"]


def test_an_unauthorised_key_fails_permanently_and_is_redacted(receiver):
    receiver.answer((401, {}, '{"message":"Key og-key-5d1e9a7c is not valid"}'))
    channel = OpsgenieChannel("core", api_key="{{ secrets.OPSGENIE_KEY }}", api_url=receiver.url)
    outcome = attempt_once(one_request(channel), make_runtime(OG_SECRETS))
    assert outcome.state == "failed"
    assert "og-key-5d1e9a7c" not in str(outcome.attempt) and "og-key-5d1e9a7c" not in str(outcome.event)


def test_a_key_that_cannot_render_fails_the_delivery(receiver):
    channel = OpsgenieChannel("core", api_key="{{ secrets.NO_SUCH_KEY }}", api_url=receiver.url)
    outcome = attempt_once(one_request(channel), make_runtime())
    assert outcome.state == "failed" and "api_key" in outcome.attempt["error"]
    assert receiver.requests == []


def test_the_preview_masks_the_key():
    channel = OpsgenieChannel("core", api_key="{{ secrets.OPSGENIE_KEY }}")
    preview = Preview(ruleset(channel), public_url="http://tocsin.test", settings=DeliverySettings(),
                      secrets=Secrets(OG_SECRETS))
    (shown,) = preview(alert_event(Destination("opsgenie", "core")))
    assert shown["error"] is None
    assert shown["url"] == OPSGENIE_API_URL + "/v2/alerts"
    assert shown["headers"]["Authorization"] == "GenieKey ****"
    assert "og-key-5d1e9a7c" not in str(shown)


def test_a_rule_file_channel_reaches_the_receiver(receiver):
    rules, diagnostics = load({"og.rules": f'''
opsgenie "core" {{
  api_key "{{{{ secrets.OPSGENIE_KEY }}}}"
  api_url "{receiver.url}"
  timeout 5s
}}
group "Ops" {{ opsgenie "core" }}
monitor "Sync failures" when execution.failed notify group "Ops"
'''})
    assert rules is not None, diagnostics
    assert rules.channels[("opsgenie", "core")] == OpsgenieChannel(
        "core", api_key="{{ secrets.OPSGENIE_KEY }}", api_url=receiver.url, timeout=5.0)
    event = alert_event(Destination("opsgenie", "core", "Ops"))
    (request,) = build_requests(event, rules, public_url="http://tocsin.test")
    assert attempt_once(request, make_runtime(OG_SECRETS)).state == "sent"
    assert receiver.requests[0].headers["authorization"] == "GenieKey og-key-5d1e9a7c"
