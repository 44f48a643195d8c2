"""`delivery.pipeline.attempt`: one claimed attempt -> the ledger's next state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from delivery.ledger import FAILED, PENDING, SENT, Claim
from delivery.pipeline import attempt
from engine.model import rfc3339
from tests.delivery.support import WebhookChannel, make_runtime, one_request

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)


def _claim(request, attempt_no: int = 1, first_attempt_at: datetime | None = None) -> Claim:
    return Claim(request, "w", attempt_no, first_attempt_at, T0 + timedelta(seconds=60))


def test_a_retry_is_scheduled_from_the_answer(receiver):
    receiver.answer(503)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    outcome = attempt(_claim(request), make_runtime(), now=T0)
    assert outcome.state == PENDING and outcome.event is None
    assert outcome.delivery_id == request.id and outcome.token == "w"
    assert outcome.first_attempt_at == T0
    record = outcome.attempt
    assert record["attempt"] == 1 and record["at"] == rfc3339(T0) and record["status"] == 503
    assert record["outcome"] == "retry" and record["retry_in_ms"] is not None
    waited_ms = (outcome.next_attempt_at - T0).total_seconds() * 1000
    assert abs(waited_ms - record["latency_ms"] - record["retry_in_ms"]) <= 0.5


def test_a_later_attempt_keeps_the_first_attempt_time_and_numbers_itself(receiver):
    receiver.answer(200)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    first = T0 - timedelta(seconds=5)
    outcome = attempt(_claim(request, 3, first), make_runtime(), now=T0)
    assert outcome.state == SENT and outcome.first_attempt_at == first
    assert outcome.attempt["attempt"] == 3
    assert outcome.event["data"]["attempts"] == 3 and outcome.event["data"]["status"] == "sent"
    assert receiver.requests[0].headers["idempotency-key"] == request.id


def test_a_retry_past_max_age_gives_up_as_dead(receiver):
    receiver.answer(503)
    request = one_request(WebhookChannel("ops", url=receiver.url))
    first = T0 - timedelta(seconds=60)  # FAST_RETRY.max_age
    outcome = attempt(_claim(request, 2, first), make_runtime(), now=T0)
    assert outcome.state == FAILED and outcome.next_attempt_at is None
    assert outcome.attempt["outcome"] == "failed" and outcome.attempt["retry_in_ms"] is None
    assert outcome.event["type"] == "notification.failed" and outcome.event["data"]["status"] == "dead"


def test_retry_after_counts_from_the_answer_not_from_the_start_of_the_attempt(receiver):
    receiver.delay = 0.5
    receiver.answer((429, {"Retry-After": "1"}))
    request = one_request(WebhookChannel("ops", url=receiver.url))
    started = datetime.now(timezone.utc)
    outcome = attempt(_claim(request), make_runtime())
    assert outcome.state == PENDING and outcome.attempt["retry_in_ms"] >= 1000
    # The answer came at least 0.5 s after the start, so counted from it the retry is at
    # least 1.5 s after the start; counted from the start it would be 1 s (a lower bound
    # only: a loaded machine makes it later, never earlier).
    assert outcome.next_attempt_at >= started + timedelta(seconds=1.5)
