"""The delivery ledger's rules (`delivery.ledger`) on `MemoryLedger`, with a driven clock.

Nothing here sleeps: every claim and every due query is given its `now`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery.ledger import (
    CLAIM_SLACK,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    MemoryLedger,
    Outcome,
    birth_claim,
    claimable,
    lease_for,
)
from delivery.events import notification_event
from delivery.pipeline import attempt
from tests.delivery.support import WebhookChannel, make_runtime, one_request

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)
LEASE = 30.0
TICK = timedelta(microseconds=1)


def _request(url: str = "http://127.0.0.1:9/hook", n: int = 1):
    return one_request(WebhookChannel("ops", url=url), id=f"ae-{n}")


def _ledger(*requests, now: datetime = T0, wake_grace: float = 10.0) -> MemoryLedger:
    ledger = MemoryLedger()
    for request in requests:
        ledger.add(request, now, wake_grace=wake_grace)
    return ledger


def _outcome(claim, state: str, *, at: datetime = T0, next_attempt_at: datetime | None = None) -> Outcome:
    """What `delivery.pipeline.attempt` would return for `claim`, without sending."""
    record = {"attempt": claim.attempt, "at": at.isoformat(), "status": 200 if state == SENT else 503,
              "latency_ms": 1.0, "error": None if state == SENT else "HTTP 503",
              "outcome": {SENT: "ok", PENDING: "retry", FAILED: "failed"}[state],
              "retry_in_ms": None}
    event = None
    if state in (SENT, FAILED):
        request = replace(claim.request, attempt=claim.attempt)
        event = notification_event(request, state, record["error"], record["status"], at)
    return Outcome(claim.id, claim.token, record, state, next_attempt_at=next_attempt_at,
                   first_attempt_at=claim.first_attempt_at or at, event=event)


# --- claims ------------------------------------------------------------------------------


def test_a_fresh_entry_is_claimable_once():
    request = _request()
    ledger = _ledger(request)
    entry = ledger.entries[request.id]
    assert entry["state"] == PENDING and entry["attempts"] == [] and entry["claimed_by"] is None

    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    assert claim is not None
    assert (claim.id, claim.token, claim.attempt, claim.first_attempt_at) == (request.id, "a", 1, None)
    assert claim.request == request
    assert claim.lease_until == T0 + timedelta(seconds=LEASE)
    assert entry["state"] == SENDING and entry["claimed_by"] == "a"
    assert entry["lease_until"] == entry["due_at"] == claim.lease_until

    assert ledger.claim(request.id, now=T0, lease=LEASE, token="b") is None
    assert ledger.claim(request.id, now=T0 + timedelta(seconds=5), lease=LEASE, token="b") is None
    assert entry["claimed_by"] == "a"


def test_unknown_entry_is_not_claimable():
    assert MemoryLedger().claim("dlv-nope", now=T0, lease=LEASE, token="a") is None


def test_adding_an_entry_again_leaves_it_as_it_is():
    request = _request()
    ledger = _ledger(request)
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    ledger.record(_outcome(claim, SENT))
    ledger.add(request, T0 + timedelta(minutes=1))  # a replay regenerating the alert event
    assert ledger.entries[request.id]["state"] == SENT
    assert ledger.claim(request.id, now=T0 + timedelta(minutes=1), lease=LEASE, token="b") is None


def test_a_sending_entry_is_claimable_again_only_after_its_lease_expires():
    request = _request()
    ledger = _ledger(request)
    first = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    lease_end = first.lease_until
    assert ledger.claim(request.id, now=lease_end - timedelta(seconds=1), lease=LEASE, token="b") is None
    assert ledger.claim(request.id, now=lease_end, lease=LEASE, token="b") is None  # not yet expired

    second = ledger.claim(request.id, now=lease_end + TICK, lease=LEASE, token="b")
    assert second is not None and second.token == "b"
    assert second.attempt == 1  # the first attempt was never recorded (its worker died)
    assert second.id == first.id  # the same idempotency key
    assert ledger.entries[request.id]["claimed_by"] == "b"
    assert ledger.entries[request.id]["lease_until"] == lease_end + TICK + timedelta(seconds=LEASE)
    assert ledger.claim(request.id, now=lease_end + TICK, lease=LEASE, token="c") is None


def test_a_pending_retry_is_claimable_only_when_due_within_the_claim_slack():
    request = _request()
    ledger = _ledger(request)
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    retry_at = T0 + timedelta(seconds=20)
    ledger.record(_outcome(claim, PENDING, next_attempt_at=retry_at))
    entry = ledger.entries[request.id]
    assert entry["state"] == PENDING and entry["next_attempt_at"] == retry_at

    for early in (T0, T0 + timedelta(seconds=10), retry_at - CLAIM_SLACK - TICK):
        assert not claimable(entry, early)
        assert ledger.claim(request.id, now=early, lease=LEASE, token="b") is None
    assert claimable(entry, retry_at - CLAIM_SLACK)  # a wake-up a little early is accepted

    second = ledger.claim(request.id, now=retry_at - CLAIM_SLACK, lease=LEASE, token="b")
    assert second is not None and second.attempt == 2
    assert second.first_attempt_at == T0  # kept for the retry policy's max_age
    assert second.id == claim.id == request.id


def test_a_retry_outcome_sets_due_at_to_the_next_attempt_and_releases_the_claim():
    request = _request()
    ledger = _ledger(request)
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    retry_at = T0 + timedelta(seconds=7)
    ledger.record(_outcome(claim, PENDING, next_attempt_at=retry_at))
    entry = ledger.entries[request.id]
    assert entry["due_at"] == entry["next_attempt_at"] == retry_at
    assert entry["claimed_by"] is None and entry["lease_until"] is None
    assert entry["first_attempt_at"] == T0
    assert [a["attempt"] for a in entry["attempts"]] == [1]
    assert ledger.events == []  # a retry is not final: no notification.* event


def test_final_outcomes_clear_due_at_and_emit_their_event_once():
    sent_req, failed_req = _request(n=1), _request(n=2)
    ledger = _ledger(sent_req, failed_req)
    for request, state in ((sent_req, SENT), (failed_req, FAILED)):
        claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
        ledger.record(_outcome(claim, state))
        entry = ledger.entries[request.id]
        assert entry["state"] == state
        assert "due_at" not in entry and entry["next_attempt_at"] is None
        assert entry["claimed_by"] is None and entry["lease_until"] is None
        later = T0 + timedelta(days=1)
        assert not claimable(entry, later)
        assert ledger.claim(request.id, now=later, lease=LEASE, token="b") is None
    assert [e["type"] for e in ledger.events] == ["notification.sent", "notification.failed"]


def test_wait_final_counts_sent_and_failed_entries():
    a, b = _request(n=1), _request(n=2)
    ledger = _ledger(a, b)
    assert ledger.wait_final(1, timeout=0.01) is False
    ledger.record(_outcome(ledger.claim(a.id, now=T0, lease=LEASE, token="a"), SENT))
    assert ledger.wait_final(1, timeout=0.01) is True
    assert ledger.wait_final(2, timeout=0.01) is False
    ledger.record(_outcome(ledger.claim(b.id, now=T0, lease=LEASE, token="a"), FAILED))
    assert ledger.wait_final(2, timeout=0.01) is True


# --- stale claimants ----------------------------------------------------------------------


def _reclaimed(request):
    """`a` claimed at T0 and let its lease expire; `b` claimed after it."""
    ledger = _ledger(request)
    stale = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    later = stale.lease_until + timedelta(seconds=1)
    fresh = ledger.claim(request.id, now=later, lease=LEASE, token="b")
    assert fresh is not None
    return ledger, stale, fresh, later


def test_a_stale_claimant_cannot_record_a_retry_over_the_new_claim():
    request = _request()
    ledger, stale, fresh, later = _reclaimed(request)
    before = dict(ledger.entries[request.id])
    ledger.record(_outcome(stale, PENDING, next_attempt_at=later + timedelta(seconds=5)))
    entry = ledger.entries[request.id]
    assert entry == before  # still `sending`, held by b, nothing recorded
    assert entry["state"] == SENDING and entry["claimed_by"] == "b" and entry["attempts"] == []
    # b's own outcome still counts
    ledger.record(_outcome(fresh, SENT, at=later))
    assert entry["state"] == SENT and len(entry["attempts"]) == 1


def test_a_stale_claimant_cannot_record_a_failure_over_the_new_claim():
    request = _request()
    ledger, stale, fresh, later = _reclaimed(request)
    ledger.record(_outcome(stale, FAILED))
    entry = ledger.entries[request.id]
    assert entry["state"] == SENDING and entry["claimed_by"] == "b" and entry["attempts"] == []
    assert ledger.events == []  # no notification.failed for an outcome that did not count
    ledger.record(_outcome(fresh, PENDING, at=later, next_attempt_at=later + timedelta(seconds=3)))
    assert entry["state"] == PENDING and entry["due_at"] == later + timedelta(seconds=3)


def test_a_stale_claimants_late_success_still_counts():
    request = _request()
    ledger, stale, fresh, later = _reclaimed(request)
    ledger.record(_outcome(stale, SENT))
    entry = ledger.entries[request.id]
    assert entry["state"] == SENT and entry["claimed_by"] is None and "due_at" not in entry
    assert [e["type"] for e in ledger.events] == ["notification.sent"]
    # the new claimant's outcome, whatever it is, does not move it out of `sent`
    ledger.record(_outcome(fresh, FAILED, at=later))
    ledger.record(_outcome(fresh, PENDING, at=later, next_attempt_at=later + timedelta(seconds=3)))
    ledger.record(_outcome(fresh, SENT, at=later))
    assert entry["state"] == SENT and len(entry["attempts"]) == 1
    assert [e["type"] for e in ledger.events] == ["notification.sent"]  # once


def test_a_late_success_overrides_a_failure_recorded_meanwhile():
    request = _request()
    ledger, stale, fresh, later = _reclaimed(request)
    ledger.record(_outcome(fresh, FAILED, at=later))
    assert ledger.entries[request.id]["state"] == FAILED
    ledger.record(_outcome(stale, SENT))  # the receiver did take it: the best news wins
    assert ledger.entries[request.id]["state"] == SENT


# --- due() -------------------------------------------------------------------------------


def test_due_finds_lost_wake_ups_due_retries_and_expired_leases_never_final_entries():
    fresh, retry, sent, failed = (_request(n=n) for n in range(4))
    sending = one_request(WebhookChannel("quick", url="http://127.0.0.1:9/hook", timeout=1.0), id="ae-4")
    ledger = _ledger(fresh, retry, sending, sent, failed, wake_grace=10.0)

    c = ledger.claim(retry.id, now=T0, lease=LEASE, token="w")
    ledger.record(_outcome(c, PENDING, next_attempt_at=T0 + timedelta(seconds=4)))
    ledger.claim(sending.id, now=T0, lease=5.0, token="w")
    ledger.record(_outcome(ledger.claim(sent.id, now=T0, lease=LEASE, token="w"), SENT))
    ledger.record(_outcome(ledger.claim(failed.id, now=T0, lease=LEASE, token="w"), FAILED))

    def due(seconds: float) -> set[str]:
        return set(ledger.due(T0 + timedelta(seconds=seconds)))

    assert due(0) == set()
    assert due(3.9) == set()
    assert due(4) == {retry.id}  # the retry, at its next_attempt_at
    assert due(5) == {retry.id, sending.id}  # the lease's end: its worker may be dead
    assert due(9.9) == {retry.id, sending.id}
    assert due(10) == {retry.id, sending.id, fresh.id}  # a wake-up not acted on within the grace
    assert due(86400 * 365) == {retry.id, sending.id, fresh.id}  # sent / failed never


def test_a_claim_moves_due_at_to_the_lease_end():
    request = _request()
    ledger = _ledger(request, wake_grace=10.0)
    assert ledger.due(T0 + timedelta(seconds=10)) == [request.id]
    ledger.claim(request.id, now=T0 + timedelta(seconds=2), lease=LEASE, token="a")
    assert ledger.due(T0 + timedelta(seconds=10)) == []
    assert ledger.due(T0 + timedelta(seconds=2 + LEASE)) == [request.id]


# --- the idempotency key ------------------------------------------------------------------


def test_every_attempt_carries_the_entry_id_as_its_idempotency_key(receiver):
    """500, 500, 200 through the real pipeline with a driven clock: three claims, one key."""
    receiver.answer(500, 500, 200)
    request = _request(url=receiver.url)
    ledger = _ledger(request)
    runtime = make_runtime()
    now, claims, outcomes = T0, [], []
    for token in ("w1", "w2", "w3"):
        claim = ledger.claim(request.id, now=now, lease=LEASE, token=token)
        assert claim is not None
        claims.append(claim)
        outcome = attempt(claim, runtime, now=now)
        ledger.record(outcome)
        outcomes.append(outcome)
        if outcome.state == PENDING:
            now = outcome.next_attempt_at
    assert [c.attempt for c in claims] == [1, 2, 3]
    assert {c.id for c in claims} == {request.id}
    assert [o.state for o in outcomes] == [PENDING, PENDING, SENT]
    assert [r.headers["idempotency-key"] for r in receiver.requests] == [request.id] * 3
    entry = ledger.entries[request.id]
    assert [a["status"] for a in entry["attempts"]] == [500, 500, 200]
    assert entry["first_attempt_at"] == T0
    (event,) = ledger.events
    assert event["data"]["delivery_id"] == request.id and event["data"]["attempts"] == 3


# --- a property: two workers, any interleaving --------------------------------------------


@dataclass
class Held:
    claim: object
    lease_until: datetime


# Whole seconds, so that time lands exactly on lease ends and retry times (the boundaries).
WORKER = st.integers(0, 1)
SECONDS = st.integers(0, 6)
STEPS = st.lists(st.one_of(
    st.tuples(st.just("claim"), WORKER, st.integers(1, 5)),
    st.tuples(st.just("record"), WORKER, st.sampled_from([SENT, PENDING, FAILED]), SECONDS),
    st.tuples(st.just("tick"), SECONDS),
), min_size=3, max_size=40)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_two_workers_never_hold_two_live_claims_and_sent_is_final(steps):
    request = _request()
    ledger = _ledger(request)
    entry = ledger.entries[request.id]
    now = T0
    held: list[Held | None] = [None, None]
    counter = 0
    was_sent = False
    for step in steps:
        if step[0] == "tick":
            now += timedelta(seconds=step[1])
        elif step[0] == "claim":
            _, w, lease = step
            if held[w] is not None:
                continue  # a worker holds one claim at a time; it records before claiming again
            counter += 1
            claim = ledger.claim(request.id, now=now, lease=lease, token=f"w{w}-{counter}")
            if claim is not None:
                held[w] = Held(claim, claim.lease_until)
        else:
            _, w, state, delay = step
            if held[w] is None:
                continue
            token = held[w].claim.token
            next_at = now + timedelta(seconds=delay) if state == PENDING else None
            before = copy.deepcopy(entry)
            ledger.record(_outcome(held[w].claim, state, at=now, next_attempt_at=next_at))
            held[w] = None
            counts = before["state"] != SENT if state == SENT else before["claimed_by"] == token
            if counts:  # the claimant's outcome, or a success: recorded, claim released
                assert entry["state"] == state and entry["claimed_by"] is None
                assert len(entry["attempts"]) == len(before["attempts"]) + 1
            else:  # a stale claimant's retry/failure, or a repeated success: nothing changes
                assert entry == before

        live = [h for h in held if h is not None and h.lease_until >= now]
        assert len(live) <= 1, ([h.claim.token for h in live], now, entry["state"], entry["claimed_by"])
        if entry["state"] == SENDING:
            assert entry["claimed_by"] is not None and entry["lease_until"] is not None
            owners = [h for h in held if h is not None and h.claim.token == entry["claimed_by"]]
            assert len(owners) == 1, entry["claimed_by"]  # its claimant is a worker that still holds it
        if was_sent:
            assert entry["state"] == SENT
        was_sent = entry["state"] == SENT
        assert entry["state"] in (PENDING, SENDING, SENT, FAILED)
        assert sum(e["type"] == "notification.sent" for e in ledger.events) == int(was_sent)


def test_a_long_channel_timeout_lengthens_the_lease():
    """Three of the channel's timeouts, when that is longer than the configured lease: a
    slow but live send is not taken over (which would send it twice)."""
    slow = one_request(WebhookChannel("slow", url="http://127.0.0.1:9/hook", timeout=20.0), id="ae-slow")
    fast = _request()
    assert lease_for(slow, LEASE) == 60.0 and lease_for(fast, LEASE) == LEASE
    ledger = _ledger(slow, fast)
    assert ledger.claim(slow.id, now=T0, lease=LEASE, token="a").lease_until == T0 + timedelta(seconds=60)
    assert ledger.claim(fast.id, now=T0, lease=LEASE, token="a").lease_until == T0 + timedelta(seconds=LEASE)
    assert birth_claim(slow, "b", T0, LEASE).lease_until == T0 + timedelta(seconds=60)


def test_a_claim_is_renewed_only_while_the_entry_is_still_its_own():
    mine, taken = _request(n=1), _request(n=2)
    ledger = _ledger(mine, taken)
    a = ledger.claim(mine.id, now=T0, lease=LEASE, token="a")
    b = ledger.claim(taken.id, now=T0, lease=LEASE, token="a")
    later = T0 + timedelta(seconds=LEASE + 5)
    assert ledger.claim(taken.id, now=later, lease=LEASE, token="other") is not None
    assert ledger.renew(a, now=later, lease=LEASE).lease_until == later + timedelta(seconds=LEASE)
    assert ledger.renew(b, now=later, lease=LEASE) is None
