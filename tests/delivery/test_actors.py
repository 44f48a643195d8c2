"""The `deliver` actor end to end: StubBroker and real Redis, real HTTP receiver."""

from __future__ import annotations

import json

import pytest
from dramatiq.brokers.stub import StubBroker

import delivery
from delivery.actors import QUEUE_NAME, binding
from delivery.log import MemoryDeliveryLog
from delivery.worker import redis_broker, start_in_process
from tests.delivery.support import SECRETS, WebhookChannel, make_runtime, one_request


@pytest.fixture
def stub():
    """A StubBroker with the actor bound and 4 worker threads; yields (broker, log)."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    log = MemoryDeliveryLog()
    handle = start_in_process(broker, log, threads=4)
    binding()._runtime = make_runtime()
    yield broker, log
    handle.stop()
    broker.close()


def test_500_500_200_is_one_delivery_with_three_attempts(stub, receiver):
    broker, log = stub
    receiver.answer(500, 500, 200)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    delivery.enqueue(request)
    assert log.wait_for(1)
    assert [a["status"] for a in log.attempts[request.id]] == [500, 500, 200]
    assert [a["outcome"] for a in log.attempts[request.id]] == ["retry", "retry", "ok"]
    assert [a["attempt"] for a in log.attempts[request.id]] == [1, 2, 3]
    assert log.outcomes[request.id]["status"] == "sent"
    assert log.outcomes[request.id]["attempts"] == 3
    keys = {r.headers["idempotency-key"] for r in receiver.requests}
    assert keys == {request.id}  # the same idempotency key on every attempt
    (event,) = log.events
    assert event["type"] == "notification.sent"
    assert event["data"]["attempts"] == 3 and event["data"]["channel"] == "webhook"
    assert event["data"]["target"] == "ops" and event["data"]["alert_id"] == "al-123"
    assert event["caused_by"] == {"monitors": ["Sync failures"], "depth": 1}


def test_429_retry_after_is_honoured(stub, receiver):
    broker, log = stub
    receiver.answer((429, {"Retry-After": "1"}), 200)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    delivery.enqueue(request)
    assert log.wait_for(1)
    first, second = log.attempts[request.id]
    assert first["status"] == 429 and first["outcome"] == "retry"
    assert first["retry_in_ms"] >= 1000  # the fast test backoff alone would be ~10 ms
    first_hit, second_hit = receiver.requests
    assert second_hit.at - first_hit.at >= 0.9
    assert log.outcomes[request.id]["status"] == "sent"


def test_400_fails_at_once_and_is_dead_lettered(stub, receiver):
    broker, log = stub
    receiver.answer((400, {}, "bad payload"))
    request = one_request(WebhookChannel("ops", url=receiver.url))
    delivery.enqueue(request)
    assert log.wait_for(1)
    (attempt,) = log.attempts[request.id]
    assert attempt["status"] == 400 and attempt["outcome"] == "failed"
    assert "bad payload" in attempt["error"]
    assert log.outcomes[request.id]["status"] == "failed"
    assert log.events[0]["type"] == "notification.failed"
    broker.join(QUEUE_NAME, fail_fast=False)
    assert len(broker.dead_letters) == 1
    assert len(receiver.requests) == 1


def test_retries_stop_after_max_attempts_and_the_delivery_is_dead(stub, receiver):
    broker, log = stub
    receiver.answer(*[503] * 10)
    runtime = binding().runtime
    from dataclasses import replace
    binding()._runtime.settings = replace(runtime.settings, retry=replace(
        runtime.settings.retry, max_attempts=3))
    request = one_request(WebhookChannel("ops", url=receiver.url))
    delivery.enqueue(request)
    assert log.wait_for(1)
    assert [a["outcome"] for a in log.attempts[request.id]] == ["retry", "retry", "failed"]
    assert log.outcomes[request.id]["status"] == "dead"
    assert log.outcomes[request.id]["request"]["id"] == request.id  # replayable dead letter
    assert log.events[0]["data"]["status"] == "dead"


def test_a_delivery_already_sent_is_never_sent_again(stub, receiver):
    broker, log = stub
    request = one_request(WebhookChannel("ops", url=receiver.url))
    delivery.enqueue(request)
    assert log.wait_for(1)
    delivery.enqueue(request)
    delivery.enqueue(request)
    broker.join(QUEUE_NAME)
    assert len(receiver.requests) == 1
    assert len(log.attempts[request.id]) == 1


def test_secrets_never_appear_in_records_or_events(stub, receiver):
    broker, log = stub
    receiver.answer((401, {}, "token tok-SUPER-secret-9876 is not valid"))
    channel = WebhookChannel(
        "ops", url=receiver.url + "/{{ secrets.SLACK_PATH }}",
        headers=(("Authorization", "Bearer {{ secrets.API_TOKEN }}"),),
        signing_secret="{{ secrets.HOOK_KEY }}",
        payload={"key": "{{ secrets.PD_ROUTING_KEY }}"},
    )
    request = one_request(channel)
    assert not any(v in json.dumps(request.to_dict()) for v in SECRETS.values())
    delivery.enqueue(request)
    assert log.wait_for(1)
    assert receiver.requests[0].headers["authorization"] == "Bearer " + SECRETS["API_TOKEN"]
    recorded = json.dumps([log.attempts, log.outcomes, log.summaries, log.events])
    assert "[REDACTED]" in recorded
    for value in SECRETS.values():
        assert value not in recorded


def test_missing_template_variable_is_a_recorded_error(stub, receiver):
    broker, log = stub
    channel = WebhookChannel("ops", url=receiver.url, payload={"x": "{{ alert.nme }}"})
    request = one_request(channel)
    delivery.enqueue(request)
    assert log.wait_for(1)
    (attempt,) = log.attempts[request.id]
    assert attempt["outcome"] == "failed" and "nme" in attempt["error"]
    assert "payload.x" in attempt["error"]
    assert receiver.requests == []


def test_redis_broker_delivers_and_retries(redis_url, receiver):
    broker = redis_broker(redis_url)
    broker.flush_all()
    log = MemoryDeliveryLog()
    handle = start_in_process(broker, log, threads=4)
    binding()._runtime = make_runtime()
    try:
        receiver.answer(502, 200)
        requests = [one_request(WebhookChannel("ops", url=receiver.url), kind=kind)
                    for kind in ("fired", "resolved")]
        for request in requests:
            delivery.enqueue(request)
        assert log.wait_for(2, timeout=20)
        assert {log.outcomes[r.id]["status"] for r in requests} == {"sent"}
        assert sum(len(log.attempts[r.id]) for r in requests) == 3
    finally:
        handle.stop()
        broker.flush_all()
        broker.close()
