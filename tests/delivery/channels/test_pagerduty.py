"""PagerDuty Events API v2 against a real HTTP receiver: trigger, then resolve."""

from __future__ import annotations

from delivery.ledger import MemoryLedger
from tests.delivery.support import SECRETS, PagerDutyChannel, attempt_once, make_runtime, one_request


def test_trigger_then_resolve_with_the_same_dedup_key(receiver):
    receiver.answer((202, {}, '{"status":"success"}'), (202, {}, '{"status":"success"}'))
    channel = PagerDutyChannel("core", routing_key="{{ secrets.PD_ROUTING_KEY }}",
                               url=receiver.url + "/v2/enqueue")
    runtime, ledger = make_runtime(), MemoryLedger()
    fired = one_request(channel, kind="fired")
    resolved = one_request(channel, kind="resolved")
    assert fired.id != resolved.id
    assert attempt_once(fired, runtime, ledger=ledger).state == "sent"
    assert attempt_once(resolved, runtime, ledger=ledger).state == "sent"
    trigger, resolve = (r.json() for r in receiver.requests)
    assert receiver.requests[0].path == "/v2/enqueue"
    assert trigger["event_action"] == "trigger"
    assert trigger["routing_key"] == SECRETS["PD_ROUTING_KEY"]
    assert trigger["dedup_key"] == "al-123"
    assert trigger["payload"]["summary"] == "Sync failures: Acme Salesforce Sync failed"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "Acme Salesforce Sync"
    assert trigger["links"][0]["href"] == "http://tocsin.test/alerts/al-123"
    assert resolve == {"routing_key": SECRETS["PD_ROUTING_KEY"], "event_action": "resolve",
                       "dedup_key": "al-123"}


def test_repeated_and_escalated_trigger(receiver):
    channel = PagerDutyChannel("core", routing_key="rk", url=receiver.url)
    runtime, ledger = make_runtime(), MemoryLedger()
    for kind in ("repeated", "escalated"):
        attempt_once(one_request(channel, kind=kind), runtime, ledger=ledger)
    assert [r.json()["event_action"] for r in receiver.requests] == ["trigger", "trigger"]


def test_rate_limited_is_retried(receiver):
    receiver.answer(429)
    channel = PagerDutyChannel("core", routing_key="rk", url=receiver.url)
    ledger = MemoryLedger()
    request = one_request(channel)
    outcome = attempt_once(request, make_runtime(), ledger=ledger)
    assert outcome.attempt["outcome"] == "retry"
    assert outcome.state == "pending" and outcome.next_attempt_at is not None
    assert outcome.event is None  # not final: no notification.* yet
    second = ledger.claim(request.id, now=outcome.next_attempt_at, lease=60.0, token="second")
    assert second is not None and second.attempt == 2
