"""One `classify()` for every channel: an attempt's result -> ok, retry or failed.

    verdict = classify(response_or_exception)
    verdict.outcome   # "ok" | "retry" | "failed"

HTTP: 2xx ok; 408, 425, 429 and 5xx retry (honouring `Retry-After`, seconds or an
HTTP date); 3xx failed (redirects are not followed); other 4xx failed. The error quotes
the first ~200 characters of the answer, cut before a word, never through it (secrets
are redacted afterwards, and only a whole one is found).
Exceptions: `TransientDeliveryError`, httpx timeouts and transport errors, SMTP 4xx
replies and socket errors retry; `PermanentDeliveryError`, SMTP 5xx and anything else
(a bug must not loop) fail.
"""

from __future__ import annotations

import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

from delivery.errors import PermanentDeliveryError, TransientDeliveryError

OK, RETRY, FAILED = "ok", "retry", "failed"
RETRYABLE_STATUS = frozenset({408, 425, 429})
EXCERPT_CHARS = 200  # of a receiver's answer, in the attempt's error
_WORD_ENDS = frozenset(" \t\r\n\"'<>()[]{},;")


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None


def classify(result: httpx.Response | BaseException | int) -> Verdict:
    """The verdict for a response, a status code, or the exception an attempt raised."""
    if isinstance(result, httpx.Response):
        return _classify_status(result.status_code, result)
    if isinstance(result, int):
        return _classify_status(result, None)
    return _classify_exception(result)


def _classify_status(status: int, response: httpx.Response | None) -> Verdict:
    if 200 <= status < 300:
        return Verdict(OK, status)
    detail = _body_excerpt(response)
    if status in RETRYABLE_STATUS or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after")) if response else None
        return Verdict(RETRY, status, f"HTTP {status}{detail}", retry_after)
    if 300 <= status < 400:
        location = response.headers.get("location", "") if response else ""
        return Verdict(FAILED, status, f"HTTP {status} redirect not followed {location}".rstrip())
    return Verdict(FAILED, status, f"HTTP {status}{detail}")


def _classify_exception(exc: BaseException) -> Verdict:
    status = getattr(exc, "status", None)
    if isinstance(exc, TransientDeliveryError):
        return Verdict(RETRY, status, str(exc), exc.retry_after)
    if isinstance(exc, PermanentDeliveryError):
        return Verdict(FAILED, status, str(exc))
    if isinstance(exc, httpx.TimeoutException):
        return Verdict(RETRY, None, f"timeout: {type(exc).__name__}")
    if isinstance(exc, httpx.TransportError):
        return Verdict(RETRY, None, f"connection error: {type(exc).__name__}: {exc}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        outcome = RETRY if codes and all(400 <= c < 500 for c in codes) else FAILED
        return Verdict(outcome, codes[0] if codes else None, f"SMTP recipient refused: {codes}")
    if isinstance(exc, smtplib.SMTPResponseException):
        outcome = RETRY if 400 <= exc.smtp_code < 500 else FAILED
        return Verdict(outcome, exc.smtp_code, f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError,
                        socket.timeout, ConnectionError, OSError)):
        return Verdict(RETRY, None, f"connection error: {type(exc).__name__}: {exc}")
    return Verdict(FAILED, status, f"{type(exc).__name__}: {exc}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def _body_excerpt(response: httpx.Response | None) -> str:
    """The start of the receiver's answer, cut where no secret can be cut in two.

    Secrets are redacted after `classify()` (it does not know them), and redaction only
    finds a whole value: so the cut falls before the word it would split (a word ends
    at white space, a quote or a bracket), never inside it."""
    if response is None:
        return ""
    try:
        text = response.text.strip()
    except Exception:
        return ""
    return f": {excerpt(text)}" if text else ""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` cut to about `limit` characters before the word the cut would split."""
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and text[cut - 1] not in _WORD_ENDS and text[cut] not in _WORD_ENDS:
        cut -= 1
    return text[:cut].rstrip() + "…"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
