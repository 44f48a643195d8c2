"""One attempt of one claimed delivery: render -> send -> classify -> decide.

    outcome = attempt(claim, runtime)          # never raises for a delivery problem
    ledger.record(outcome)

`attempt` sends the claimed request once and turns the verdict into the ledger's next
state: `sent`, `pending` again with `next_attempt_at` (a retry, honouring `Retry-After`)
or `failed`. A final outcome carries its `notification.sent|failed` event; every
outcome carries the attempt's render warnings (templates that fell back). Errors are
redacted before they are recorded. Nothing here touches a broker or a database.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from delivery.channels import build_config, get_channel
from delivery.classify import FAILED, OK, RETRY, Verdict, classify
from delivery.events import notification_event
from delivery.ledger import FAILED as FAILED_STATE
from delivery.ledger import PENDING, SENT, Claim, Outcome
from delivery.request import DeliveryRequest
from delivery.retry import next_delay
from delivery.runtime import SendContext, WorkerResources
from delivery.settings import RetryPolicy
from engine.model import rfc3339


def send_once(request: DeliveryRequest, runtime: WorkerResources,
              render_warnings: list[str] | None = None) -> Verdict:
    """Render and send through the request's channel, classified (no recording); the
    render warnings of this attempt are appended to `render_warnings`."""
    try:
        spec = get_channel(request.kind)
        config = build_config(spec, request, runtime.settings)
        ctx = SendContext(request, runtime, render_warnings if render_warnings is not None else [])
        result = spec.send(request, config, ctx)
    except Exception as exc:  # every failure is classified, none escapes the pipeline
        return classify(exc)
    return Verdict(OK) if result is None else classify(result)


def attempt(claim: Claim, runtime: WorkerResources, *, now: datetime | None = None) -> Outcome:
    """Send `claim.request` once and decide what the ledger records."""
    request = replace(claim.request, attempt=claim.attempt)
    started = now or datetime.now(timezone.utc)
    first_at = claim.first_attempt_at or started
    t0 = time.perf_counter()
    warnings: list[str] = []
    verdict = send_once(request, runtime, warnings)
    latency_ms = round((time.perf_counter() - t0) * 1000, 3)
    error = runtime.secrets.redact(verdict.error)

    answered = started + timedelta(milliseconds=latency_ms)  # waits count from the answer

    delay = None
    if verdict.outcome == RETRY:
        policy = _channel_retry(request, runtime.settings.retry_for(request.kind))
        delay = next_delay(policy, attempt=claim.attempt, elapsed=(answered - first_at).total_seconds(),
                           retry_after=verdict.retry_after)
    record = {
        "attempt": claim.attempt,
        "at": rfc3339(started),
        "status": verdict.status,
        "latency_ms": latency_ms,
        "error": error,
        "outcome": verdict.outcome if verdict.outcome != RETRY or delay is not None else FAILED,
        "retry_in_ms": round(delay * 1000) if delay is not None else None,
    }
    if delay is not None:
        return Outcome(request.id, claim.token, record, PENDING,
                       next_attempt_at=answered + timedelta(seconds=delay), first_attempt_at=first_at,
                       render_warnings=tuple(warnings))
    state = SENT if verdict.outcome == OK else FAILED_STATE
    status = SENT if state == SENT else ("dead" if verdict.outcome == RETRY else "failed")
    event = notification_event(request, status, error, verdict.status, started)
    return Outcome(request.id, claim.token, record, state, first_attempt_at=first_at, event=event,
                   render_warnings=tuple(warnings))


def _channel_retry(request: DeliveryRequest, policy: RetryPolicy) -> RetryPolicy:
    """A channel config may carry its own `retry` {max_attempts, base, max_age, …}."""
    overrides = (request.channel or {}).get("retry") or {}
    if not overrides:
        return policy
    allowed = {"max_attempts", "base", "factor", "max_delay", "max_age"}
    return replace(policy, **{k: v for k, v in overrides.items() if k in allowed})
