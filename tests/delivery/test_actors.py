"""The `deliver` actor end to end: StubBroker and real Redis, real HTTP receiver, MemoryLedger.

A wake-up carries an entry id; the worker claims the entry, sends it once and records
the outcome. Retries are not broker messages: a retryable failure leaves the entry
`pending` with `next_attempt_at`, and the reconciler wakes it when it is due. Here a
`reconciler()` thread plays that part (every 20 ms: `ledger.due(now)` -> `wake(ids)`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker

import delivery
from delivery.actors import QUEUE_NAME, binding, birth_claims, deliver, wake_entries
from delivery.ledger import FAILED, PENDING, SENDING, SENT, MemoryLedger, new_entry
from delivery.worker import make_broker, start_in_process
from tests.delivery.support import SECRETS, WebhookChannel, make_runtime, one_request


@pytest.fixture
def stub():
    """A StubBroker with the actor bound and 4 worker threads; yields (broker, ledger)."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    ledger = MemoryLedger()
    handle = start_in_process(broker, ledger, threads=4)
    binding()._runtime = make_runtime()
    yield broker, ledger
    handle.stop()
    broker.close()


@contextlib.contextmanager
def reconciler(ledger: MemoryLedger, *, period: float = 0.02, deadline: float = 30.0):
    """Wake every due entry, once per `due_at` (as the service's reconciler does with
    `mark_woken`), until the block ends or `deadline` seconds have passed."""
    stop = threading.Event()
    woken: set[tuple[str, datetime]] = set()

    def run() -> None:
        end = datetime.now(timezone.utc) + timedelta(seconds=deadline)
        while not stop.wait(period):
            now = datetime.now(timezone.utc)
            if now > end:
                return
            with ledger.cond:
                due = [(i, ledger.entries[i]["due_at"]) for i in ledger.due(now)]
            fresh = [i for i, at in due if (i, at) not in woken]
            woken.update(due)
            if fresh:
                delivery.wake(fresh)

    thread = threading.Thread(target=run, name="test-reconciler", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _add(ledger: MemoryLedger, *requests) -> None:
    now = datetime.now(timezone.utc)
    for request in requests:
        ledger.add(request, now)


def test_500_500_200_is_one_delivery_with_three_attempts(stub, receiver):
    broker, ledger = stub
    receiver.answer(500, 500, 200)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    _add(ledger, request)
    with reconciler(ledger):
        delivery.wake([request.id])
        assert ledger.wait_final(1)
    entry = ledger.entries[request.id]
    assert [a["status"] for a in entry["attempts"]] == [500, 500, 200]
    assert [a["outcome"] for a in entry["attempts"]] == ["retry", "retry", "ok"]
    assert [a["attempt"] for a in entry["attempts"]] == [1, 2, 3]
    assert all(a["retry_in_ms"] is not None for a in entry["attempts"][:2])
    assert entry["state"] == SENT and "due_at" not in entry
    assert len(receiver.requests) == 3
    keys = [r.headers["idempotency-key"] for r in receiver.requests]
    assert keys == [request.id] * 3  # the same idempotency key on every attempt
    (event,) = ledger.events
    assert event["type"] == "notification.sent"
    assert event["data"]["attempts"] == 3 and event["data"]["channel"] == "webhook"
    assert event["data"]["target"] == "ops" and event["data"]["alert_id"] == "al-123"
    assert event["data"]["status"] == "sent" and event["data"]["status_code"] == 200
    assert event["data"]["delivery_id"] == request.id and event["data"]["error"] is None
    assert event["data"]["alert_event_id"] == request.alert_event_id
    assert event["data"]["monitor"] == "Sync failures"
    assert event["caused_by"] == {"monitors": ["Sync failures"], "depth": 1}


def test_429_retry_after_is_honoured(stub, receiver):
    broker, ledger = stub
    receiver.answer((429, {"Retry-After": "1"}), 200)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    _add(ledger, request)
    with reconciler(ledger):
        delivery.wake([request.id])
        assert ledger.wait_final(1)
    first, second = ledger.entries[request.id]["attempts"]
    assert first["status"] == 429 and first["outcome"] == "retry"
    assert first["retry_in_ms"] >= 1000  # the fast test backoff alone would be ~10 ms
    assert second["status"] == 200 and second["outcome"] == "ok"
    # the second attempt started no earlier than Retry-After after the first one started
    started = [datetime.fromisoformat(a["at"].replace("Z", "+00:00")) for a in (first, second)]
    assert (started[1] - started[0]).total_seconds() >= first["retry_in_ms"] / 1000 - 0.002
    # ... which the receiver sees less the first attempt's own latency (measured from its
    # start, before: now from the answer, as test_pipeline checks)
    first_hit, second_hit = receiver.requests
    assert second_hit.at - first_hit.at >= first["retry_in_ms"] / 1000 - 0.01
    assert ledger.entries[request.id]["state"] == SENT


def test_a_retry_waits_in_the_ledger_not_in_the_broker(stub, receiver):
    """Without a reconciler nothing wakes the retry: it stays `pending` and due."""
    broker, ledger = stub
    receiver.answer(503)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    _add(ledger, request)
    delivery.wake([request.id])
    broker.join(QUEUE_NAME)
    entry = ledger.entries[request.id]
    assert entry["state"] == PENDING and len(entry["attempts"]) == 1
    assert entry["next_attempt_at"] is not None and entry["due_at"] == entry["next_attempt_at"]
    assert broker.queues[QUEUE_NAME].qsize() == 0 and broker.dead_letters == []
    assert len(receiver.requests) == 1
    with reconciler(ledger):
        assert ledger.wait_final(1)
    assert entry["state"] == SENT and len(receiver.requests) == 2


def test_400_fails_at_once_and_the_ledger_keeps_the_failure(stub, receiver):
    broker, ledger = stub
    receiver.answer((400, {}, "bad payload"))
    request = one_request(WebhookChannel("ops", url=receiver.url))
    _add(ledger, request)
    with reconciler(ledger):
        delivery.wake([request.id])
        assert ledger.wait_final(1)
    entry = ledger.entries[request.id]
    (attempt,) = entry["attempts"]
    assert attempt["status"] == 400 and attempt["outcome"] == "failed"
    assert "bad payload" in attempt["error"]
    assert entry["state"] == FAILED and "due_at" not in entry
    (event,) = ledger.events
    assert event["type"] == "notification.failed" and event["data"]["status"] == "failed"
    assert "bad payload" in event["data"]["error"]
    broker.join(QUEUE_NAME, fail_fast=False)
    assert broker.dead_letters == []  # the failed entry is the dead letter, not a message
    assert len(receiver.requests) == 1


def test_retries_stop_after_max_attempts_and_the_delivery_is_dead(stub, receiver):
    broker, ledger = stub
    receiver.answer(*[503] * 10)
    runtime = binding().runtime
    runtime.settings = replace(runtime.settings, retry=replace(runtime.settings.retry, max_attempts=3))
    request = one_request(WebhookChannel("ops", url=receiver.url))
    _add(ledger, request)
    with reconciler(ledger):
        delivery.wake([request.id])
        assert ledger.wait_final(1)
    entry = ledger.entries[request.id]
    assert [a["outcome"] for a in entry["attempts"]] == ["retry", "retry", "failed"]
    assert entry["attempts"][-1]["retry_in_ms"] is None
    assert entry["state"] == FAILED
    assert entry["request"]["id"] == request.id  # replayable dead letter
    (event,) = ledger.events
    assert event["type"] == "notification.failed"
    assert event["data"]["status"] == "dead" and event["data"]["attempts"] == 3
    assert len(receiver.requests) == 3


def test_a_delivery_already_sent_is_never_sent_again(stub, receiver):
    broker, ledger = stub
    request = one_request(WebhookChannel("ops", url=receiver.url))
    _add(ledger, request)
    delivery.wake([request.id])
    assert ledger.wait_final(1)
    delivery.wake([request.id])
    delivery.wake([request.id])
    broker.join(QUEUE_NAME)
    assert len(receiver.requests) == 1
    assert len(ledger.entries[request.id]["attempts"]) == 1
    assert len(ledger.events) == 1


def test_duplicate_wake_ups_for_one_entry_send_it_once(stub, receiver):
    broker, ledger = stub
    request = one_request(WebhookChannel("ops", url=receiver.url))
    _add(ledger, request)
    assert delivery.wake([request.id] * 5) == 5  # 4 worker threads take them at once
    broker.join(QUEUE_NAME)
    assert ledger.wait_final(1)
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["idempotency-key"] == request.id
    entry = ledger.entries[request.id]
    assert entry["state"] == SENT and len(entry["attempts"]) == 1
    assert [e["type"] for e in ledger.events] == ["notification.sent"]


def test_a_wake_up_for_an_unknown_entry_does_nothing(stub, receiver):
    broker, ledger = stub
    delivery.wake(["dlv_does_not_exist"])
    broker.join(QUEUE_NAME)
    assert broker.dead_letters == [] and receiver.requests == [] and ledger.entries == {}


def test_secrets_never_appear_in_records_or_events(stub, receiver):
    broker, ledger = stub
    receiver.answer((401, {}, "token tok-SUPER-secret-9876 is not valid"))
    channel = WebhookChannel(
        "ops", url=receiver.url + "/{{ secrets.SLACK_PATH }}",
        headers=(("Authorization", "Bearer {{ secrets.API_TOKEN }}"),),
        signing_secret="{{ secrets.HOOK_KEY }}",
        payload={"key": "{{ secrets.PD_ROUTING_KEY }}"},
    )
    request = one_request(channel)
    assert not any(v in json.dumps(request.to_dict()) for v in SECRETS.values())
    _add(ledger, request)
    delivery.wake([request.id])
    assert ledger.wait_final(1)
    assert receiver.requests[0].headers["authorization"] == "Bearer " + SECRETS["API_TOKEN"]
    recorded = json.dumps([ledger.entries, ledger.events], default=str)
    assert "[REDACTED]" in recorded
    for value in SECRETS.values():
        assert value not in recorded


def test_a_template_that_cannot_render_falls_back_and_is_recorded(stub, receiver):
    """semantics.md: a notification is never dropped for a template reason; an undefined
    path renders empty, and a template that cannot render falls back to the standard
    alert document with a render warning on the entry."""
    broker, ledger = stub
    channel = WebhookChannel("ops", url=receiver.url,
                             payload={"x": "{{ alert.nme }}", "y": "{{ 1 + }}"})
    request = one_request(channel)
    _add(ledger, request)
    delivery.wake([request.id])
    assert ledger.wait_final(1)
    assert ledger.entries[request.id]["state"] == SENT
    (warning,) = ledger.entries[request.id]["render_warnings"]
    assert warning.startswith("payload.y: template syntax error")
    (received,) = receiver.wait_for(1)
    assert received.json()["id"] == request.document["id"]  # the standard alert document


def test_deliver_with_a_driven_clock(stub, receiver):
    """`deliver(id, now=…)` claims at `now`; it returns the recorded state, or None when
    the entry is not its to send."""
    broker, ledger = stub
    receiver.answer(500)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    t0 = datetime.now(timezone.utc)
    ledger.add(request, t0)
    assert deliver(request.id, now=t0) == PENDING
    entry = ledger.entries[request.id]
    retry_at = entry["next_attempt_at"]
    assert deliver(request.id, now=retry_at - timedelta(seconds=5)) is None  # not yet due
    assert deliver(request.id, now=retry_at) == SENT
    assert deliver(request.id, now=retry_at + timedelta(hours=1)) is None  # sent: never again
    assert [a["attempt"] for a in entry["attempts"]] == [1, 2]
    assert len(receiver.requests) == 2
    assert deliver("dlv_unknown", now=t0) is None


def test_an_entry_born_claimed_is_sent_once_without_a_claim(stub, receiver):
    """Embedded mode: the entry is written `sending` with the local worker's claim."""
    broker, ledger = stub
    request = one_request(WebhookChannel("ops", url=receiver.url))
    now = datetime.now(timezone.utc)
    (claim,) = birth_claims([request], now)
    with ledger.cond:
        ledger.entries[request.id] = new_entry(request, now, wake_grace=10.0, claim=claim)
    assert ledger.entries[request.id]["state"] == SENDING
    assert ledger.claim(request.id, now=now, lease=60.0, token="other") is None
    wake_entries([claim])
    assert ledger.wait_final(1)
    delivery.wake([request.id])
    broker.join(QUEUE_NAME)
    entry = ledger.entries[request.id]
    assert entry["state"] == SENT and len(entry["attempts"]) == 1
    assert len(receiver.requests) == 1


def test_a_birth_claim_whose_lease_expired_does_not_send_over_a_newer_claim(receiver):
    broker = StubBroker()
    broker.emit_after("process_boot")
    ledger = MemoryLedger()
    delivery.setup(broker, ledger, runtime=make_runtime())
    binding().local = True  # as start_in_process does: this process's workers send
    try:
        request = one_request(WebhookChannel("ops", url=receiver.url))
        born = datetime.now(timezone.utc)
        (claim,) = birth_claims([request], born)
        with ledger.cond:
            ledger.entries[request.id] = new_entry(request, born, wake_grace=10.0, claim=claim)
        wake_entries([claim])  # the wake-up waits in a long queue (no worker consumes here)
        later = claim.lease_until + timedelta(seconds=1)
        other = ledger.claim(request.id, now=later, lease=60.0, token="reconciled-worker")
        assert other is not None  # the reconciler woke the expired entry; a worker claimed it
        # the birth claim's wake-up is processed now, while `other` holds a live claim
        assert deliver(request.id, now=later) is None
        assert receiver.requests == []
    finally:
        broker.close()


class CarriedLedger(MemoryLedger):
    """A MemoryLedger that notes the request each claim was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.carried: list = []

    def claim(self, delivery_id, *, now, lease, token, request=None):
        self.carried.append(request)
        return super().claim(delivery_id, now=now, lease=lease, token=token, request=request)


def test_a_wake_up_for_workers_elsewhere_carries_the_fresh_entrys_request(receiver):
    """`tocsin serve` with `tocsin worker` processes: the wake-up of a fresh entry holds its
    request, and the worker hands it to the claim (one update, no read: MongoLedger);
    in-process workers get the id alone."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    ledger = CarriedLedger()
    delivery.setup(broker, ledger, runtime=make_runtime())  # not local: workers are elsewhere
    try:
        request = one_request(WebhookChannel("ops", url=receiver.url))
        assert birth_claims([request], datetime.now(timezone.utc)) == []  # entries are born pending
        _add(ledger, request)
        assert wake_entries([request]) == 1
        (encoded,) = list(broker.queues[QUEUE_NAME].queue)
        message = Message.decode(encoded)
        assert list(message.args) == [request.id, request.to_dict()]
        binding().actor.fn(*message.args)  # what a worker elsewhere runs for it
        assert ledger.carried == [request]
        assert ledger.entries[request.id]["state"] == SENT and len(receiver.requests) == 1
    finally:
        broker.close()


def test_redis_broker_delivers_and_retries(redis_url, receiver):
    broker = make_broker(redis_url)
    broker.flush_all()
    ledger = MemoryLedger()
    handle = start_in_process(broker, ledger, threads=4)
    binding()._runtime = make_runtime()
    try:
        receiver.answer(502, 200)
        requests = [one_request(WebhookChannel("ops", url=receiver.url), kind=kind)
                    for kind in ("fired", "resolved")]
        _add(ledger, *requests)
        with reconciler(ledger):
            assert delivery.wake([r.id for r in requests]) == 2
            assert ledger.wait_final(2, timeout=20)
        assert {ledger.entries[r.id]["state"] for r in requests} == {SENT}
        assert sum(len(ledger.entries[r.id]["attempts"]) for r in requests) == 3
        assert len(receiver.requests) == 3
        assert sorted(e["data"]["delivery_id"] for e in ledger.events) == sorted(r.id for r in requests)
    finally:
        handle.stop()
        broker.flush_all()
        broker.close()


class CountingLedger(MemoryLedger):
    """A MemoryLedger that counts the claims and renewals written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def claim(self, delivery_id, *, now, lease, token, request=None):
        self.writes.append("claim")
        return super().claim(delivery_id, now=now, lease=lease, token=token, request=request)

    def renew(self, claim, *, now, lease):
        self.writes.append("renew")
        return super().renew(claim, now=now, lease=lease)


@contextlib.contextmanager
def serve_with_redis(redis_url, ledger):
    """`tocsin serve` with workers elsewhere on Redis: the actor bound, not local."""
    broker = make_broker(redis_url)
    broker.flush_all()
    delivery.setup(broker, ledger, runtime=make_runtime())
    try:
        yield broker
    finally:
        broker.flush_all()
        broker.close()


def _born(ledger: MemoryLedger, request, now: datetime):
    (claim,) = birth_claims([request], now)
    with ledger.cond:
        ledger.entries[request.id] = new_entry(request, now, wake_grace=10.0, claim=claim)
    return claim


def _queued_args(broker) -> list[list]:
    """The arguments of every wake-up waiting in Redis, as a worker elsewhere gets them."""
    raw = broker.client.hvals(f"{broker.namespace}:{QUEUE_NAME}.msgs")
    return [list(Message.decode(m).args) for m in raw]


def test_a_birth_claim_travels_through_redis_and_one_copy_of_its_wake_up_sends_it(redis_url, receiver):
    """With Redis workers elsewhere, an entry is born `sending` and its wake-up carries
    the claim: a worker adopts it with no write to the ledger. A second copy of the
    wake-up (a requeued or doubly enqueued message) finds the claim taken in Redis
    and sends nothing, even before the first copy's outcome is recorded."""
    ledger = CountingLedger()
    with serve_with_redis(redis_url, ledger) as broker:
        request = one_request(WebhookChannel("ops", url=receiver.url), id="ae-born-redis")
        claim = _born(ledger, request, datetime.now(timezone.utc))
        assert ledger.entries[request.id]["state"] == SENDING
        assert wake_entries([claim]) == 1
        (args,) = _queued_args(broker)
        assert args[:2] == [request.id, request.to_dict()] and args[2]["token"] == claim.token
        binding().actor.fn(*args)  # the first copy
        binding().actor.fn(*args)  # a second copy of the same wake-up
        entry = ledger.entries[request.id]
        assert entry["state"] == SENT and len(entry["attempts"]) == 1
        assert len(receiver.requests) == 1
        assert ledger.writes == []  # adopted: neither a claim nor a renewal was written


def test_a_late_copy_renews_the_birth_lease_and_a_copy_after_it_claims_from_the_ledger(redis_url, receiver):
    """A wake-up that waited in a storm's queue until less than two thirds of the birth
    lease is left renews the claim in the ledger before sending (one conditional
    update). Once the lease is over, a copy claims like any wake-up and sends nothing
    over the claim of the worker the reconciler woke."""
    ledger = CountingLedger()
    with serve_with_redis(redis_url, ledger) as broker:
        born = datetime.now(timezone.utc)
        late = one_request(WebhookChannel("ops", url=receiver.url), id="ae-born-late")
        claim = _born(ledger, late, born)
        wake_entries([claim])
        (args,) = _queued_args(broker)
        lease = args[2]["lease_seconds"]
        half = born + timedelta(seconds=lease / 2)
        assert deliver(late.id, now=half, request=late, birth=args[2]) == SENT
        assert ledger.writes == ["renew"]
        assert ledger.entries[late.id]["attempts"][0]["attempt"] == 1

        broker.flush_all()
        over = one_request(WebhookChannel("ops", url=receiver.url), id="ae-born-over")
        claim = _born(ledger, over, born)
        wake_entries([claim])
        (args,) = _queued_args(broker)
        after = claim.lease_until + timedelta(seconds=1)
        assert ledger.claim(over.id, now=after, lease=60.0, token="reconciled-worker") is not None
        ledger.writes.clear()
        assert deliver(over.id, now=after, request=over, birth=args[2]) is None
        assert ledger.writes == ["claim"]  # tried the ledger, which the other worker holds
        assert len(receiver.requests) == 1  # only the late one went out
