"""Webhook channel against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from standardwebhooks import Webhook

from tests.delivery.support import EVENT, SECRETS, WebhookChannel, attempt_once, make_runtime, one_request


def test_standard_alert_document_without_payload(receiver):
    request = one_request(WebhookChannel("ops", url=receiver.url + "/hook"))
    outcome = attempt_once(request, make_runtime())
    assert outcome.state == "sent"
    (got,) = receiver.requests
    assert got.method == "POST" and got.path == "/hook"
    doc = got.json()
    assert set(doc) == {"id", "monitor", "severity", "status", "key", "kind", "count", "value",
                        "threshold", "fired_at", "resolved_at", "url", "labels", "message", "event"}
    assert doc["id"] == "al-123" and doc["status"] == "firing" and doc["kind"] == "fired"
    assert doc["url"] == "http://tocsin.test/alerts/al-123"
    assert doc["message"] == "Sync failures: Acme Salesforce Sync failed"
    assert doc["fired_at"] == "2026-11-22T07:30:00.125Z"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["idempotency-key"] == request.id
    assert "webhook-signature" not in got.headers


def test_payload_leaves_rendered_into_valid_json(receiver):
    payload = {
        "text": "{{ event.message }}",
        "summary": "$NAME triggered - $INSTANCE failed to run.",
        "source": "$SUBJECT",
        "links": [{"href": "{{ alert.url }}", "n": 3, "ok": True, "none": None}],
        "count": "{{ alert.count }}",
    }
    channel = WebhookChannel("ops", url=receiver.url, method="PUT", payload=payload,
                             headers=(("Authorization", "Bearer {{ secrets.API_TOKEN }}"),
                                      ("X-Flow", "$FLOW")))
    attempt_once(one_request(channel), make_runtime())
    (got,) = receiver.requests
    assert got.method == "PUT"
    body = json.loads(got.body)  # valid JSON although the message holds quotes and a newline
    assert body == {
        "text": 'HTTP 503 from "Salesforce"\n<b>',
        "summary": "Sync failures triggered - Acme Salesforce Sync failed to run.",
        "source": "Sync failures Alert",
        "links": [{"href": "http://tocsin.test/alerts/al-123", "n": 3, "ok": True, "none": None}],
        "count": "2",
    }
    assert got.headers["authorization"] == "Bearer " + SECRETS["API_TOKEN"]
    assert got.headers["x-flow"] == "Sync"


def test_signature_verifies_with_the_standard_webhooks_library(receiver):
    channel = WebhookChannel("signed", url=receiver.url, signing_secret="{{ secrets.HOOK_KEY }}")
    request = one_request(channel)
    attempt_once(request, make_runtime())
    (got,) = receiver.requests
    assert got.headers["webhook-id"] == request.id
    verified = Webhook(SECRETS["HOOK_KEY"]).verify(got.body, got.headers)
    assert verified["id"] == "al-123"


def test_signature_with_the_wrong_secret_does_not_verify(receiver):
    import pytest
    from standardwebhooks import WebhookVerificationError

    channel = WebhookChannel("signed", url=receiver.url, signing_secret="{{ secrets.HOOK_KEY }}")
    attempt_once(one_request(channel), make_runtime())
    (got,) = receiver.requests
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_b3RoZXIta2V5LW5vdC10aGUtc2FtZQ==").verify(got.body, got.headers)


def test_signature_by_hand_hmac_over_id_timestamp_body(receiver):
    import base64
    import hashlib
    import hmac

    channel = WebhookChannel("signed", url=receiver.url, signing_secret="{{ secrets.HOOK_KEY }}")
    attempt_once(one_request(channel), make_runtime())
    (got,) = receiver.requests
    key = base64.b64decode(SECRETS["HOOK_KEY"].removeprefix("whsec_"))
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert got.headers["webhook-signature"] == f"v1,{expected}"


# ----------------------------------------------------------------- headers from data

HEADER_DATA = [
    ("Zoë Müller", "Zoë Müller"),                    # UTF-8 on the wire
    ("a\r\nX-Injected: 1", "a  X-Injected: 1"),      # no header splitting
    ("a\r\n\tfolded", "a   folded"),                   # no obsolete line folding
    ("tab\there\x00nul\x7f", "tab here nul"),          # controls become spaces
    ("  padded  ", "padded"),
    ("日本語 \U0001F600", "日本語 \U0001F600"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
]


@pytest.mark.parametrize(("name", "expected"), HEADER_DATA)
def test_header_values_from_event_data_never_fail_a_delivery(receiver, name, expected):
    channel = WebhookChannel("ops", url=receiver.url,
                             headers=(("X-Customer", "{{ event.customer.name }}"),))
    event = {**EVENT, "customer": {"name": name}}
    outcome = attempt_once(one_request(channel, event=event))
    assert outcome.state == "sent", outcome.attempt
    (received,) = receiver.wait_for(1)
    # http.server decodes header bytes as Latin-1; the bytes sent are UTF-8.
    value = received.headers["x-customer"].encode("latin-1").decode("utf-8")
    assert value == expected
    assert "x-injected" not in received.headers
