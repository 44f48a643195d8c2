"""A notification is never dropped for a template reason (semantics.md § Delivery
guarantees): what cannot render falls back, the delivery goes out, and the outcome
carries the render warnings; only the destination (no URL, no routing key) fails it."""

from __future__ import annotations

import json

import pytest

from tests.delivery.rendering import Capture
from tests.delivery.support import SECRETS, PagerDutyChannel, SlackChannel, WebhookChannel, one_request

URL = "http://hook.test/in"
BROKEN = [
    ("{{ 1 + }}", "template syntax error"),
    ("{{ ''.__class__ }}", "refused by the sandbox"),
    ("{{ 'x' * 100000000 }}", "refused"),
    ("{{ secrets.NOPE }}", "secret NOPE is not set"),
    ("{{ event.nope + 1 }}", "undefined value was used in an expression"),
    ("{{ 1 / 0 }}", "ZeroDivisionError"),
]


@pytest.fixture
def capture():
    return Capture.make()


@pytest.mark.parametrize(("template", "reason"), BROKEN)
def test_a_message_that_cannot_render_falls_back_to_the_standard_text(capture, template, reason):
    request = one_request(SlackChannel("ops", url=URL), message=template)
    outcome, sent = capture.send(request)
    assert outcome.state == "sent"
    assert json.loads(sent.content)["text"].startswith("[critical] Sync failures: Acme Salesforce Sync")
    (warning,) = outcome.render_warnings
    assert warning.startswith("message: ") and reason in warning
    assert warning.endswith("the standard text was sent")
    assert outcome.attempt["error"] is None


def test_a_message_that_renders_blank_is_replaced_by_the_standard_text(capture):
    request = one_request(SlackChannel("ops", url=URL), message="{{ event.nothing }}  ")
    outcome, sent = capture.send(request)
    assert json.loads(sent.content)["text"].startswith("[critical] Sync failures")
    assert outcome.render_warnings == ("message: rendered empty; the standard text was sent",)


def test_undefined_paths_render_empty_without_a_warning(capture):
    channel = WebhookChannel("ops", url=URL, payload={"m": "{{ event.message.text }}|$CUSTOMER"})
    outcome, sent = capture.send(one_request(channel, event={"type": "execution.failed"}))
    assert outcome.state == "sent" and outcome.render_warnings == ()
    assert json.loads(sent.content) == {"m": "|"}


@pytest.mark.parametrize(("template", "reason"), BROKEN)
def test_a_payload_that_cannot_render_becomes_the_standard_alert_document(capture, template, reason):
    channel = WebhookChannel("ops", url=URL, payload={"ok": "{{ alert.id }}", "bad": [template]})
    outcome, sent = capture.send(one_request(channel))
    assert outcome.state == "sent"
    body = json.loads(sent.content)
    assert body["id"] == "al-123" and body["status"] == "firing" and "ok" not in body
    (warning,) = outcome.render_warnings
    assert warning.startswith("payload.bad[0]: ") and reason in warning


def test_a_header_that_cannot_render_is_left_out_and_a_signature_without_its_secret_is_skipped(capture):
    channel = WebhookChannel("ops", url=URL, headers=(("X-A", "{{ secrets.MISSING }}"), ("X-B", "b")),
                             signing_secret="{{ secrets.NO_KEY }}")
    outcome, sent = capture.send(one_request(channel))
    assert outcome.state == "sent"
    assert "x-a" not in sent.headers and sent.headers["x-b"] == "b"
    assert "webhook-signature" not in sent.headers
    assert outcome.render_warnings == (
        "header X-A: secret MISSING is not set (TOCSIN_SECRET_MISSING); the header was left out",
        "signing_secret: secret NO_KEY is not set (TOCSIN_SECRET_NO_KEY); the request was sent unsigned",
    )


def test_slack_text_falls_back_to_the_message_and_broken_blocks_are_left_out(capture):
    channel = SlackChannel("ops", url=URL, text="{{ 1 + }}", blocks=[{"type": "section", "text": "{% if %}"}])
    outcome, sent = capture.send(one_request(channel))
    assert outcome.state == "sent"
    assert json.loads(sent.content) == {"text": "Sync failures: Acme Salesforce Sync failed"}
    assert [w.split(":")[0] for w in outcome.render_warnings] == ["text", "blocks[0].text"]


@pytest.mark.parametrize("channel", [
    WebhookChannel("ops", url="{{ secrets.NO_URL }}"),
    WebhookChannel("ops", url="{{ event.nothing }}"),
    SlackChannel("ops", url="{{ 1 + }}"),
    PagerDutyChannel("core", routing_key="{{ secrets.NO_KEY }}", url=URL),
])
def test_only_the_destination_fails_a_delivery(capture, channel):
    outcome, sent = capture.send(one_request(channel))
    assert outcome.state == "failed" and sent is None
    assert outcome.attempt["error"]


def test_warnings_never_hold_a_secret_value(capture):
    token = SECRETS["API_TOKEN"]
    request = one_request(SlackChannel("ops", url=URL), message=(
        "{{ secrets[secrets.API_TOKEN] }}"))
    outcome, _ = capture.send(request)
    assert outcome.state == "sent" and outcome.render_warnings
    assert all(token not in w and token[1:] not in w for w in outcome.render_warnings)
    request = one_request(SlackChannel("ops", url=URL), message=(
        "{{ {}[secrets.API_TOKEN[1:]] + 1 }}"))
    outcome, _ = capture.send(request)
    assert all(token[1:] not in w for w in outcome.render_warnings)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_sent_as_null_with_a_warning(capture, value):
    for channel, where in ((WebhookChannel("ops", url=URL), "payload"),
                           (PagerDutyChannel("core", routing_key="rk", url=URL), "body")):
        outcome, sent = capture.send(one_request(channel, value=value, threshold=1.5e308))
        assert outcome.state == "sent"
        text = sent.content.decode()
        assert "Infinity" not in text and "NaN" not in text
        json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in {where}"))
        (warning,) = outcome.render_warnings
        assert warning.startswith(f"{where}: non-finite number at $.") and warning.endswith("sent as null")
    body = json.loads(capture.send(one_request(WebhookChannel("ops", url=URL), value=value))[1].content)
    assert body["value"] is None and body["threshold"] is None


def test_the_standard_text_of_an_infinite_value(capture):
    request = one_request(SlackChannel("ops", url=URL), message=None, value=float("inf"),
                          threshold=1.5e308)
    outcome, sent = capture.send(request)
    assert "∞ (threshold 1.5e+308)" in json.loads(sent.content)["text"]


def test_render_warnings_are_short_and_few(capture):
    values = {f"v{i}": float("inf") for i in range(50)}
    request = one_request(WebhookChannel("ops", url=URL), event={"type": "x", "data": values})
    outcome, sent = capture.send(request)
    assert outcome.state == "sent"
    assert len(outcome.render_warnings) == 21
    assert outcome.render_warnings[-1] == "… more render warnings left out"
    long_syntax = "{{ " + "(" * 400 + " }}"
    outcome, _ = capture.send(one_request(SlackChannel("ops", url=URL), message=long_syntax))
    assert all(len(w) <= 300 for w in outcome.render_warnings)
