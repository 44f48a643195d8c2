"""`delivery.preview`: the notifications a worker would send, captured, with nothing sent.

The reference is the worker itself: the same alert event is sent for real (one attempt
through `delivery.pipeline`, to a receiver on 127.0.0.1, or an SMTP server) and the
preview must show the very request that arrived.
"""

from __future__ import annotations

import json
import socket
import time
from email import message_from_bytes, policy

import pytest

from delivery.preview import MASK, Preview
from delivery.secrets import Secrets
from delivery.settings import DeliverySettings
from engine.model import Destination
from tests.delivery.support import (
    SECRETS,
    Group,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
    alert_event,
    attempt_once,
    make_runtime,
    ruleset,
)

PUBLIC_URL = "http://tocsin.test"
EVENT = {"type": "execution.failed", "instance": {"id": "i-1", "name": "Acme Sync"},
         "customer": {"name": "Zoë Müller\r\n\tX-Injected: 1"}, "flow": "Sync"}


def preview_of(channels, destinations, *, secrets=None, settings=None, max_seconds=None, **fields):
    rules = ruleset(*channels, groups=fields.pop("groups", ()))
    preview = Preview(rules, public_url=PUBLIC_URL, settings=settings or DeliverySettings(),
                      secrets=Secrets(SECRETS if secrets is None else secrets), max_seconds=max_seconds)
    return preview(alert_event(*destinations, **fields))


def sent_for_real(channel, destination, receiver, **fields):
    """One real attempt of the same alert event: the request the receiver got, and the outcome."""
    from delivery.request import build_requests

    (request,) = build_requests(alert_event(destination, **fields), ruleset(channel), public_url=PUBLIC_URL)
    outcome = attempt_once(request, make_runtime())
    assert outcome.state == "sent", outcome.attempt
    (received,) = receiver.wait_for(1)
    return received, outcome


HTTP_CHANNELS = [
    lambda url: WebhookChannel("hook", url=url + "/in?team=core", headers=(
        ("X-Customer", "{{ event.customer.name }}"), ("X-Flow", "$FLOW")),
        payload={"text": "{{ alert.message }}", "error": "{{ event.message }}", "n": 3, "ok": True}),
    lambda url: WebhookChannel("plain", url=url + "/in"),  # the standard alert document
    lambda url: SlackChannel("ops", url=url + "/slack", blocks=[{"type": "section", "text": "{{ alert.key }}"}]),
    lambda url: PagerDutyChannel("pd", routing_key="rk-{{ monitor.name | lower }}", url=url + "/pd"),
]


@pytest.mark.parametrize("make", HTTP_CHANNELS, ids=["webhook", "webhook-document", "slack", "pagerduty"])
def test_the_preview_is_the_request_the_worker_sends(receiver, make):
    channel = make(receiver.url)
    destination = Destination(channel.kind, channel.name)
    received, outcome = sent_for_real(channel, destination, receiver, event=EVENT, message="{{ event.message }}")
    (shown,) = preview_of([channel], [destination], event=EVENT, message="{{ event.message }}")

    assert shown["channel"] == channel.kind and shown["target"] == channel.name and shown["error"] is None
    assert shown["method"] == received.method
    assert shown["url"] == receiver.url + received.path
    assert {k.lower(): v for k, v in shown["headers"].items()} == {
        k: v.encode("latin-1").decode("utf-8") for k, v in received.headers.items()}
    assert shown["body"] == json.loads(received.body)
    assert shown["subject"] is None
    assert tuple(shown["render_warnings"]) == outcome.render_warnings
    # The event had no `message`: rendered empty, so the standard text and its warning.
    assert shown["render_warnings"] == ["message: rendered empty; the standard text was sent"]


def test_header_values_from_data_are_shown_as_sent():
    channel = HTTP_CHANNELS[0]("http://hook.test")
    (shown,) = preview_of([channel], [Destination("webhook", "hook")], event=EVENT)
    assert shown["headers"]["X-Customer"] == "Zoë Müller   X-Injected: 1"  # CR, LF, TAB: spaces
    assert "X-Injected" not in shown["headers"]
    assert shown["headers"]["X-Flow"] == "Sync"


def test_the_email_preview_is_the_message_the_worker_sends(smtp_server):
    settings = dict(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}", smtp_from="alerts@tocsin.test")
    destination = Destination("email", "ana@example.com")
    from delivery.request import build_requests

    (request,) = build_requests(alert_event(destination, event=EVENT), ruleset(), public_url=PUBLIC_URL)
    assert attempt_once(request, make_runtime(**settings)).state == "sent"
    sent = message_from_bytes(smtp_server.messages[0].as_bytes(), policy=policy.default)
    (shown,) = preview_of([], [destination], settings=DeliverySettings(**settings), event=EVENT)

    assert shown["url"] == f"smtp://127.0.0.1:{smtp_server.port}" and shown["error"] is None
    assert shown["subject"] == sent["Subject"] == "[critical] Sync failures: Acme Sync failed"
    assert shown["body"] == sent.get_body(("plain",)).get_content()
    assert shown["headers"]["To"] == "ana@example.com" and shown["headers"]["From"] == "alerts@tocsin.test"


def test_nothing_is_sent_resolved_or_connected(receiver, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the preview touched the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    channels = [WebhookChannel("far", url="http://preview-never-resolves.invalid/x"),
                WebhookChannel("near", url=receiver.url + "/in"),
                PagerDutyChannel("pd", routing_key="rk"), SlackChannel("ops", url="https://hooks.slack.com/x")]
    shown = preview_of(channels, [Destination(c.kind, c.name) for c in channels] + [Destination("sms", "+15550001")],
                       settings=DeliverySettings(sms_url="https://api.twilio.test/Messages.json",
                                                 deny_private=True))
    assert [n["error"] for n in shown] == [None] * 5
    assert shown[0]["url"] == "http://preview-never-resolves.invalid/x"
    assert receiver.requests == []


SECRET_CHANNEL = WebhookChannel(
    "hook", url="https://hooks.test/in?t={{ secrets.API_TOKEN | urlencode }}&raw={{ secrets.API_TOKEN }}",
    headers=(("Authorization", "Bearer {{ secrets.API_TOKEN }}"),),
    signing_secret="{{ secrets.HOOK_KEY }}",
    payload={"json": "{{ secrets.API_TOKEN | tojson }}", "reversed": "{{ secrets.API_TOKEN | reverse }}",
             "upper": "{{ secrets.API_TOKEN | upper }}", "slice": "{{ secrets.API_TOKEN[4:] }}",
             "list": "{{ secrets.API_TOKEN | list }}", "key": "{{ alert.id }}"})


def _fragments(value: str, n: int = 5) -> set[str]:
    return {value[i:i + n] for i in range(len(value) - n + 1)}


def test_secrets_never_appear_in_any_form():
    channels = [SECRET_CHANNEL]
    destinations = [Destination("webhook", "hook"), Destination("sms", "+15550001")]
    shown = preview_of(channels, destinations, settings=DeliverySettings(sms_url="https://sms.test/Messages.json"))
    text = json.dumps(shown, ensure_ascii=False)
    for name in ("API_TOKEN", "HOOK_KEY", "SMS_ACCOUNT_SID", "SMS_AUTH_TOKEN"):  # the ones used
        value = SECRETS[name]
        for fragment in _fragments(value) | _fragments(value[::-1]) | _fragments(value.upper()):
            assert fragment not in text, fragment
    hook, sms = shown
    assert hook["url"] == f"https://hooks.test/in?t={MASK}&raw={MASK}"
    assert hook["headers"]["Authorization"] == f"Bearer {MASK}"
    assert hook["headers"]["webhook-signature"] == MASK  # a signature would be a signing oracle
    assert hook["body"]["json"] == f'"{MASK}"' and hook["body"]["key"] == "al-123"
    assert sms["headers"]["authorization"] == f"Basic {MASK}"
    assert hook["render_warnings"] == [] and sms["render_warnings"] == []


def test_an_unset_secret_is_masked_with_a_warning():
    (shown,) = preview_of([SECRET_CHANNEL], [Destination("webhook", "hook")], secrets={})
    assert shown["headers"]["Authorization"] == f"Bearer {MASK}"
    assert shown["error"] is None
    assert sorted(shown["render_warnings"]) == [
        f"secret {name} is not set (TOCSIN_SECRET_{name}); shown as {MASK}, "
        "but a delivery sent from this environment would not have it" for name in ("API_TOKEN", "HOOK_KEY")]


def test_a_destination_that_cannot_render_is_the_error():
    channel = WebhookChannel("hook", url="{{ event.nothing }}")
    (shown,) = preview_of([channel], [Destination("webhook", "hook")])
    assert shown["error"] == "url: rendered empty; nowhere to send"
    assert shown["url"] is None and shown["body"] is None


def test_email_and_sms_without_settings_show_the_text_and_why_they_would_fail():
    shown = preview_of([], [Destination("email", "ana@example.com"), Destination("sms", "+15550001")],
                       groups=(Group("DevOps", (("email", "ana@example.com"),)),))
    email, sms = shown
    assert email["error"] == "e-mail needs TOCSIN_SMTP_URL" and email["url"] is None
    assert email["subject"] == "[critical] Sync failures: Acme Salesforce Sync failed"
    assert sms["error"] == "SMS needs TOCSIN_SMS_URL" and sms["url"] is None
    assert sms["body"]["Body"] == "Sync failures: Acme Salesforce Sync failed"


def test_non_finite_numbers_are_null_with_a_warning():
    channel = WebhookChannel("hook", url="http://hook.test/in")
    (shown,) = preview_of([channel], [Destination("webhook", "hook")], value=float("inf"), threshold=1.5e308)
    assert shown["body"]["value"] is None and shown["body"]["threshold"] == 1.5e308
    assert shown["render_warnings"] == ["payload: non-finite number at $.value sent as null"]


SLOW = "{% set a = range(30000)|list %}{% for i in range(100000) %}{% set b = a|sort %}{% endfor %}"


def test_one_deadline_bounds_the_whole_preview():
    channels = [WebhookChannel(f"hook{i}", url="http://hook.test/in", payload={"a": SLOW, "b": SLOW})
                for i in range(6)]
    started = time.thread_time()
    shown = preview_of(channels, [Destination("webhook", c.name) for c in channels], message=SLOW, max_seconds=1.0)
    spent = time.thread_time() - started
    # Unbounded, 6 messages and 12 payload leaves would take 0.5 s each: 9 s.
    assert spent < 3.0, spent
    first, *_, last = shown
    # The first ran into the per-template cap and fell back to the standard texts, still sendable.
    assert first["error"] is None and first["body"]["id"] == "al-123"
    assert any("took too long" in w for w in first["render_warnings"])
    assert last["error"] == "not previewed: the preview's time budget (1 s) ran out"
    assert all(n["error"] is None or n["error"].startswith("not previewed") for n in shown)


def test_a_muted_alert_event_sends_nothing():
    channel = WebhookChannel("hook", url="http://hook.test/in")
    assert preview_of([channel], [Destination("webhook", "hook")], muted=True) == []


def test_unusable_operator_settings_are_the_error_not_a_crash():
    shown = preview_of([], [Destination("email", "ana@example.com"), Destination("email", "bo@example.com")],
                       settings=DeliverySettings(smtp_url="ftp://mail.test"))
    assert [n["error"] for n in shown] == ["TOCSIN_SMTP_URL must be smtp://host:port or smtps://host:port"] * 2
    assert shown[0]["subject"] == "[critical] Sync failures: Acme Salesforce Sync failed"
    (broken,) = preview_of([], [Destination("email", "ana@example.com")],
                           settings=DeliverySettings(smtp_url="smtp://mail.test:port"))
    assert broken["error"] and broken["body"] is None
