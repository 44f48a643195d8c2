"""One attempt of one delivery: render -> send -> classify -> record.

    step = run_attempt(request, runtime, log)
    step.requeue      # the next attempt's request and its delay in seconds, or None

`run_attempt` never raises for a delivery problem: every outcome is recorded in the
`DeliveryLog` (secrets redacted) and, when final, emitted as `notification.sent` or
`notification.failed`. The caller (the Dramatiq actor) only schedules the requeue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from delivery.channels import build_config, get_channel
from delivery.classify import FAILED, OK, RETRY, Verdict, classify
from delivery.events import notification_event
from delivery.log import DeliveryLog
from delivery.request import DeliveryRequest
from delivery.retry import next_delay
from delivery.runtime import Runtime, SendContext
from delivery.settings import RetryPolicy
from engine.model import rfc3339

SENT, FAILED_STATUS, DEAD = "sent", "failed", "dead"  # final statuses


@dataclass(frozen=True, slots=True)
class Step:
    """What happened: the verdict, and the next attempt to queue (if any)."""

    verdict: Verdict
    final_status: str | None = None  # sent | failed | dead once the delivery is over
    requeue: tuple[DeliveryRequest, float] | None = None
    skipped: bool = False


def send_once(request: DeliveryRequest, runtime: Runtime) -> Verdict:
    """Render and send through the request's channel, classified (no recording)."""
    try:
        spec = get_channel(request.kind)
        config = build_config(spec, request, runtime.settings)
        ctx = SendContext(request, runtime)
        result = spec.send(request, config, ctx)
    except Exception as exc:  # every failure is classified, none escapes the pipeline
        return classify(exc)
    return Verdict(OK) if result is None else classify(result)


def run_attempt(
    request: DeliveryRequest, runtime: Runtime, log: DeliveryLog, *, now: datetime | None = None
) -> Step:
    """Attempt `request` once, record it, and decide what comes next."""
    if log.already_sent(request.id):
        return Step(Verdict(OK), SENT, skipped=True)
    started = now or datetime.now(timezone.utc)
    first_at = request.first_attempt_at or rfc3339(started)
    t0 = time.perf_counter()
    verdict = send_once(request, runtime)
    latency_ms = round((time.perf_counter() - t0) * 1000, 3)
    error = runtime.secrets.redact(verdict.error)

    delay = None
    if verdict.outcome == RETRY:
        elapsed = (started - _parse(first_at)).total_seconds()
        policy = runtime.settings.retry_for(request.kind)
        retry = _channel_retry(request, policy)
        delay = next_delay(retry, attempt=request.attempt, elapsed=elapsed,
                           retry_after=verdict.retry_after)
    log.record_attempt(request.id, {
        "attempt": request.attempt,
        "at": rfc3339(started),
        "status": verdict.status,
        "latency_ms": latency_ms,
        "error": error,
        "outcome": verdict.outcome if verdict.outcome != RETRY or delay is not None else FAILED,
        "retry_in_ms": round(delay * 1000) if delay is not None else None,
    })
    if delay is not None:
        return Step(verdict, requeue=(request.next_attempt(first_at), delay))
    status = SENT if verdict.outcome == OK else (DEAD if verdict.outcome == RETRY else FAILED_STATUS)
    _finish(request, runtime, log, status, error, verdict, started)
    return Step(verdict, status)


def _finish(request: DeliveryRequest, runtime: Runtime, log: DeliveryLog, status: str,
            error: str | None, verdict: Verdict, at: datetime) -> None:
    outcome: dict[str, Any] = {
        "status": status,
        "attempts": request.attempt,
        "error": error,
        "last_status": verdict.status,
        "at": rfc3339(at),
        "request": request.to_dict(),
    }
    log.record_outcome(request.id, request.summary(), outcome)
    log.emit_event(notification_event(request, status, error, verdict.status, at))


def _channel_retry(request: DeliveryRequest, policy: RetryPolicy) -> RetryPolicy:
    """A channel config may carry its own `retry` {max_attempts, base, max_age, …}."""
    overrides = (request.channel or {}).get("retry") or {}
    if not overrides:
        return policy
    allowed = {"max_attempts", "base", "factor", "max_delay", "max_age"}
    return replace(policy, **{k: v for k, v in overrides.items() if k in allowed})


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
