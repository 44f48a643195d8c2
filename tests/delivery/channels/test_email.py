"""E-mail over SMTP against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

from delivery.ledger import MemoryLedger
from delivery.request import build_requests
from tests.delivery.support import Destination, alert_event, attempt_once, make_runtime, ruleset


def _requests(*addresses: str, kind: str = "fired"):
    event = alert_event(*(Destination("email", a, group="DevOps") for a in addresses), kind=kind)
    return build_requests(event, ruleset(), public_url="http://tocsin.test")


def test_one_message_per_recipient_plain_and_html(smtp_server):
    runtime = make_runtime(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}",
                           smtp_from="alerts@tocsin.test")
    ledger = MemoryLedger()
    requests = _requests("ana@example.com", "bo@example.com")
    assert [attempt_once(r, runtime, ledger=ledger).state for r in requests] == ["sent", "sent"]
    messages = smtp_server.messages
    assert sorted(m["To"] for m in messages) == ["ana@example.com", "bo@example.com"]
    msg = messages[0]
    assert msg["From"] == "alerts@tocsin.test"
    assert msg["Subject"] == "[critical] Sync failures: Acme Salesforce Sync failed"
    assert msg.is_multipart()
    types = [part.get_content_type() for part in msg.walk()]
    assert "text/plain" in types and "text/html" in types
    plain = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert b"http://tocsin.test/alerts/al-123" in plain


def test_resolved_subject(smtp_server):
    runtime = make_runtime(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    (request,) = _requests("ana@example.com", kind="resolved")
    attempt_once(request, runtime)
    assert smtp_server.messages[0]["Subject"].startswith("[resolved] ")


def test_without_smtp_settings_the_delivery_fails_at_once():
    (request,) = _requests("ana@example.com")
    outcome = attempt_once(request, make_runtime())
    assert outcome.state == "failed"
    assert "TOCSIN_SMTP_URL" in outcome.attempt["error"]
    assert outcome.event["type"] == "notification.failed"


def test_unreachable_smtp_server_is_retried():
    from tests.support.servers import free_port

    runtime = make_runtime(smtp_url=f"smtp://127.0.0.1:{free_port()}")
    (request,) = _requests("ana@example.com")
    outcome = attempt_once(request, runtime)
    assert outcome.attempt["outcome"] == "retry"
    assert outcome.state == "pending" and outcome.next_attempt_at is not None
