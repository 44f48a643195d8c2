"""PagerDuty Events API v2 against a real HTTP receiver: trigger, then resolve."""

from __future__ import annotations

from delivery.log import MemoryDeliveryLog
from delivery.pipeline import run_attempt
from tests.delivery.support import SECRETS, PagerDutyChannel, make_runtime, one_request


def test_trigger_then_resolve_with_the_same_dedup_key(receiver):
    receiver.answer((202, {}, '{"status":"success"}'), (202, {}, '{"status":"success"}'))
    channel = PagerDutyChannel("core", routing_key="{{ secrets.PD_ROUTING_KEY }}",
                               url=receiver.url + "/v2/enqueue")
    runtime, log = make_runtime(), MemoryDeliveryLog()
    fired = one_request(channel, kind="fired")
    resolved = one_request(channel, kind="resolved")
    assert fired.id != resolved.id
    assert run_attempt(fired, runtime, log).final_status == "sent"
    assert run_attempt(resolved, runtime, log).final_status == "sent"
    trigger, resolve = (r.json() for r in receiver.requests)
    assert receiver.requests[0].path == "/v2/enqueue"
    assert trigger["event_action"] == "trigger"
    assert trigger["routing_key"] == SECRETS["PD_ROUTING_KEY"]
    assert trigger["dedup_key"] == "al-123"
    assert trigger["payload"]["summary"] == "Sync failures: Acme Salesforce Sync failed"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "Acme Salesforce Sync"
    assert trigger["links"][0]["href"] == "http://tocsin.test/v1/alerts/al-123"
    assert resolve == {"routing_key": SECRETS["PD_ROUTING_KEY"], "event_action": "resolve",
                       "dedup_key": "al-123"}


def test_repeated_and_escalated_trigger(receiver):
    channel = PagerDutyChannel("core", routing_key="rk", url=receiver.url)
    runtime, log = make_runtime(), MemoryDeliveryLog()
    for kind in ("repeated", "escalated"):
        run_attempt(one_request(channel, kind=kind), runtime, log)
    assert [r.json()["event_action"] for r in receiver.requests] == ["trigger", "trigger"]


def test_rate_limited_is_retried(receiver):
    receiver.answer(429)
    channel = PagerDutyChannel("core", routing_key="rk", url=receiver.url)
    step = run_attempt(one_request(channel), make_runtime(), MemoryDeliveryLog())
    assert step.verdict.outcome == "retry" and step.requeue is not None
    assert step.requeue[0].attempt == 2
