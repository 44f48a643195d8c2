"""One classification for every channel, and the retry schedule."""

from __future__ import annotations

import random
import smtplib
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from delivery.classify import classify, parse_retry_after
from delivery.errors import AddressRefused, TemplateError, TransientDeliveryError
from delivery.retry import backoff, next_delay
from delivery.settings import DeliverySettings, RetryPolicy


@pytest.mark.parametrize("status,outcome", [
    (200, "ok"), (202, "ok"), (204, "ok"), (408, "retry"), (429, "retry"), (500, "retry"),
    (503, "retry"), (400, "failed"), (401, "failed"), (404, "failed"), (422, "failed"),
    (301, "failed"),
])
def test_status_codes(status, outcome):
    assert classify(httpx.Response(status)).outcome == outcome


@pytest.mark.parametrize("exc,outcome", [
    (httpx.ConnectTimeout("t"), "retry"), (httpx.ReadTimeout("t"), "retry"),
    (httpx.ConnectError("refused"), "retry"), (httpx.RemoteProtocolError("x"), "retry"),
    (TransientDeliveryError("x"), "retry"), (AddressRefused("x"), "failed"),
    (TemplateError("x"), "failed"), (smtplib.SMTPResponseException(451, b"later"), "retry"),
    (smtplib.SMTPResponseException(550, b"no such user"), "failed"),
    (smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy")}), "retry"),
    (smtplib.SMTPServerDisconnected("x"), "retry"), (ConnectionRefusedError(), "retry"),
    (ValueError("bug"), "failed"),
])
def test_exceptions(exc, outcome):
    assert classify(exc).outcome == outcome


def test_retry_after_seconds_and_date():
    assert classify(httpx.Response(429, headers={"Retry-After": "7"})).retry_after == 7.0
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    assert 100 < parse_retry_after(later) <= 120
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_default_policy_eight_attempts_within_an_hour_first_retry_within_5s():
    policy = DeliverySettings().retry
    assert policy.max_attempts == 8
    rng = random.Random(1)
    assert backoff(policy, 1, rng) <= 5
    worst = sum(policy.base * policy.factor ** (k - 1) for k in range(1, 8))
    assert worst <= 3600
    elapsed, attempts = 0.0, 1
    while (delay := next_delay(policy, attempt=attempts, elapsed=elapsed, retry_after=None, rng=rng)) is not None:
        elapsed += delay
        attempts += 1
    assert attempts == 8 and elapsed <= 3600


def test_retry_after_is_honoured_but_not_past_max_age():
    policy = RetryPolicy(base=0.01, max_age=60)
    assert next_delay(policy, attempt=1, elapsed=0, retry_after=30) == 30
    assert next_delay(policy, attempt=1, elapsed=40, retry_after=30) is None
    assert next_delay(policy, attempt=8, elapsed=0, retry_after=None) is None


def test_the_body_excerpt_is_cut_before_a_word_never_through_it():
    """Redaction runs after classify() and finds whole secrets only (issue 9: a 23-char
    token at the 200-character cut kept 22 characters)."""
    from delivery.classify import excerpt
    from delivery.secrets import Secrets

    token = "tok_9fQx2LmZp7RtYw3Kd8Hs"
    for start in range(170, 205):
        body = "e" * (start - 1) + " " + token + " tail " + "z" * 300
        verdict = classify(httpx.Response(500, text=body))
        error = Secrets({"T": token}).redact(verdict.error)
        assert all(token[i:i + 5] not in error for i in range(len(token) - 4)), (start, error)
        assert len(verdict.error) <= len("HTTP 500: ") + 201
    assert excerpt("short") == "short"
    assert excerpt('{"a": "' + "b" * 300 + '"}') == '{"a": "…'
