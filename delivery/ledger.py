"""The delivery ledger: the only record of what must still be sent.

One entry per (alert event, destination), written with its alert event; the broker only
carries wake-ups (`delivery.actors.wake`) and is never the only copy. An entry moves

    pending ──claim──▶ sending ──ok──────────────▶ sent
       ▲                  ├──retryable failure──▶ pending (next_attempt_at = now + backoff)
       └──lease expired───┘──permanent / give up─▶ failed

Fields: `_id` (the delivery id, also the idempotency key), `state`, `attempts[]`,
`next_attempt_at`, the claim (`claimed_by`, `lease_until`), `due_at`, `request` (the
`DeliveryRequest` as JSON; it never holds a secret) and what the API shows (`alert_id`,
`channel`, `target`, `monitor`, `kind`).

`due_at` is when the reconciler must wake the entry if nothing else does: a wake-up's
grace after it was sent, the next attempt's time for a retry, the lease's end while
`sending`; a final entry has none. So one indexed range query (`due_at <= now`) finds
every entry whose wake-up was lost with a broker, whose retry is due, or whose worker
died mid-send — whatever the broker holds.

Failure modes, and why nothing is lost or doubled:
- broker lost or restarted empty: entries stay `pending`; the reconciler wakes them.
- a worker killed mid-send: the lease expires; the next claim sends again with the same
  idempotency key (at least once; receivers drop the repeat by key).
- two wake-ups for one entry (reconciler racing the first enqueue, a broker redelivery):
  only one claim succeeds; the other worker sends nothing.
- the database unreachable: a claim that fails sends nothing (the entry stays due); an
  outcome that cannot be recorded is kept and recorded when the database is back
  (`GroupCommit`), with the same key.

`MemoryLedger` implements the `Ledger` protocol for unit tests and `tocsin test`; the
service's is `service.ledger_store.MongoLedger`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from delivery.request import DeliveryRequest

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATES = (PENDING, SENDING, SENT, FAILED)
OPEN_STATES = (PENDING, SENDING)
# A wake-up may arrive a little before next_attempt_at (clocks of different machines);
# small, so a duplicate wake-up cannot bring a retry noticeably early.
CLAIM_SLACK = timedelta(milliseconds=250)


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's hold on one entry: send `request` as attempt `attempt`, then record
    with `token` before `lease_until`."""

    request: DeliveryRequest
    token: str
    attempt: int
    first_attempt_at: datetime | None
    lease_until: datetime

    @property
    def id(self) -> str:
        return self.request.id


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt changed: the attempt record and the entry's next state.

    `state` is `pending` (a retry at `next_attempt_at`), `sent` or `failed`; `event` is
    the `notification.*` event of a final outcome, written with it."""

    delivery_id: str
    token: str
    attempt: dict[str, Any]
    state: str
    next_attempt_at: datetime | None = None
    first_attempt_at: datetime | None = None
    event: dict[str, Any] | None = None
    render_warnings: tuple[str, ...] = ()


def new_entry(request: DeliveryRequest, now: datetime, *, wake_grace: float,
              claim: Claim | None = None) -> dict[str, Any]:
    """The ledger document of a fresh delivery, due for a wake-up at `now`; with `claim`,
    born claimed by it (a worker of the writing process sends it without a claim round
    trip; if that process dies, the lease expires and the reconciler wakes the entry)."""
    summary = request.summary()
    entry = {
        "_id": request.id,
        "alert_event_id": request.alert_event_id,
        "alert_id": summary["alert_id"],
        "monitor": summary["monitor"],
        "kind": summary["kind"],
        "channel": request.kind,
        "target": request.target,
        "group": summary["group"],
        "state": PENDING,
        "attempts": [],
        "next_attempt_at": now,
        "first_attempt_at": None,
        "claimed_by": None,
        "lease_until": None,
        "due_at": now + timedelta(seconds=wake_grace),
        "created_at": now,
        "updated_at": now,
        "request": request.to_dict(),
    }
    if claim is not None:
        entry.update(claim_update(claim.token, now, claim.lease_until)["$set"])
    return entry


LEASE_PER_TIMEOUT = 3  # a claim outlives three of its channel's timeouts


def lease_for(request: DeliveryRequest, lease: float) -> float:
    """The lease for sending `request`: the configured one (`TOCSIN_DELIVERY_LEASE_SECONDS`),
    longer for a channel whose `timeout` is long, so a slow but live send is never taken
    over (which would send twice, under the same key)."""
    timeout = (request.channel or {}).get("timeout")
    try:
        return max(lease, LEASE_PER_TIMEOUT * float(timeout)) if timeout is not None else lease
    except (TypeError, ValueError):
        return lease


def birth_claim(request: DeliveryRequest, token: str, now: datetime, lease: float) -> Claim:
    """The claim a fresh entry is written with (`new_entry(..., claim=)`)."""
    return Claim(request, token, 1, None, now + timedelta(seconds=lease_for(request, lease)))


def claimable(entry: dict[str, Any], now: datetime) -> bool:
    """`pending` and due (within `CLAIM_SLACK`), or `sending` with an expired lease."""
    if entry["state"] == PENDING:
        return entry["next_attempt_at"] is None or entry["next_attempt_at"] <= now + CLAIM_SLACK
    return entry["state"] == SENDING and entry["lease_until"] is not None and entry["lease_until"] < now


def claim_filters(delivery_id: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """`claimable()` as two MongoDB filters on one entry, tried in turn (a due `pending`
    entry, then an expired `sending` one). Two plain filters rather than one `$or`: the
    embedded database only looks an `$or` filter up by scanning the collection."""
    return ({"_id": delivery_id, "state": PENDING, "next_attempt_at": {"$lte": now + CLAIM_SLACK}},
            {"_id": delivery_id, "state": SENDING, "lease_until": {"$lt": now}})


def fresh_claim_filter(delivery_id: str, now: datetime) -> dict[str, Any]:
    """The first filter of `claim_filters`, narrowed to an entry never attempted (every
    recorded attempt sets `first_attempt_at`): its claim is attempt 1 of the request a
    wake-up carried, so the worker need not read the entry."""
    return {**claim_filters(delivery_id, now)[0], "first_attempt_at": None}


def claim_update(token: str, now: datetime, lease_until: datetime) -> dict[str, Any]:
    return {"$set": {"state": SENDING, "claimed_by": token, "lease_until": lease_until,
                     "due_at": lease_until, "updated_at": now}}


def claim_from_entry(entry: dict[str, Any], token: str, lease_until: datetime) -> Claim:
    """The claim a worker holds once `entry` (as it was before the claim) is its own."""
    return Claim(DeliveryRequest.from_dict(entry["request"]), token, len(entry.get("attempts") or ()) + 1,
                 entry.get("first_attempt_at"), lease_until)


def outcome_update(outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The one update that records an attempt and the entry's next state. A final entry
    loses its `due_at` altogether (`$unset`), so it leaves the sparse `due_at` index:
    the reconciler's look at due entries then costs what the open entries cost, not
    what the whole history costs (service/db.py)."""
    fields: dict[str, Any] = {"state": outcome.state, "claimed_by": None, "lease_until": None,
                              "updated_at": now, "next_attempt_at": outcome.next_attempt_at}
    if outcome.first_attempt_at is not None:
        fields["first_attempt_at"] = outcome.first_attempt_at
    if outcome.render_warnings:
        fields["render_warnings"] = list(outcome.render_warnings)
    update: dict[str, Any] = {"$set": fields, "$push": {"attempts": outcome.attempt}}
    if outcome.next_attempt_at is None:
        update["$unset"] = {"due_at": ""}
    else:
        fields["due_at"] = outcome.next_attempt_at
    return update


def outcome_filter(outcome: Outcome) -> dict[str, Any]:
    """Whose record counts: the claimant's; a success counts whoever sent it (an expired
    claimant's late `sent` is still the best news), unless already recorded."""
    if outcome.state == SENT:
        return {"_id": outcome.delivery_id, "state": {"$ne": SENT}}
    return {"_id": outcome.delivery_id, "claimed_by": outcome.token}


class Ledger(Protocol):
    """What a worker needs of the ledger (thread-safe)."""

    def claim(self, delivery_id: str, *, now: datetime, lease: float, token: str,
              request: DeliveryRequest | None = None) -> Claim | None:
        """Claim one entry if it is claimable; None when it is not (sent, claimed,
        not yet due, unknown). Raises when the database cannot be reached. `request`,
        when the wake-up carried it, lets a never-attempted entry be claimed without
        reading it back (`fresh_claim_filter`)."""

    def renew(self, claim: Claim, *, now: datetime, lease: float) -> Claim | None:
        """A new lease for `claim` if the entry is still `sending` under its token (nobody
        took it over when the old lease ran out); None otherwise."""

    def record(self, outcome: Outcome) -> None:
        """Record an attempt and the next state (may be group-committed and retried
        until the database takes it; never raises for a database outage)."""


@dataclass
class MemoryLedger:
    """The ledger in memory, for unit tests: `entries` by id, `events` emitted."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def add(self, request: DeliveryRequest, now: datetime, *, wake_grace: float = 10.0) -> None:
        with self.cond:
            self.entries.setdefault(request.id, new_entry(request, now, wake_grace=wake_grace))

    def claim(self, delivery_id: str, *, now: datetime, lease: float, token: str,
              request: DeliveryRequest | None = None) -> Claim | None:
        with self.cond:
            entry = self.entries.get(delivery_id)
            if entry is None or not claimable(entry, now):
                return None
            request = DeliveryRequest.from_dict(entry["request"])
            lease_until = now + timedelta(seconds=lease_for(request, lease))
            claim = claim_from_entry(entry, token, lease_until)
            entry.update(claim_update(token, now, lease_until)["$set"])
            return claim

    def renew(self, claim: Claim, *, now: datetime, lease: float) -> Claim | None:
        with self.cond:
            entry = self.entries.get(claim.id)
            if entry is None or entry["state"] != SENDING or entry["claimed_by"] != claim.token:
                return None
            lease_until = now + timedelta(seconds=lease_for(claim.request, lease))
            entry.update({"lease_until": lease_until, "due_at": lease_until, "updated_at": now})
            return replace(claim, lease_until=lease_until)

    def record(self, outcome: Outcome) -> None:
        with self.cond:
            entry = self.entries.get(outcome.delivery_id)
            if entry is None or not _matches(entry, outcome_filter(outcome)):
                return
            update = outcome_update(outcome, datetime.now(timezone.utc))
            entry.update(update["$set"])
            for name in update.get("$unset", ()):
                entry.pop(name, None)
            entry["attempts"].append(dict(outcome.attempt))
            if outcome.event is not None:
                self.events.append(outcome.event)
            self.cond.notify_all()

    def due(self, now: datetime) -> list[str]:
        with self.cond:
            return [i for i, e in self.entries.items() if e.get("due_at") is not None and e["due_at"] <= now]

    def wait_final(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` entries are `sent` or `failed` (False on timeout)."""
        with self.cond:
            return self.cond.wait_for(
                lambda: sum(e["state"] in (SENT, FAILED) for e in self.entries.values()) >= count, timeout)


def _matches(entry: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, want in query.items():
        if key == "_id":
            continue
        have = entry.get(key)
        if isinstance(want, dict) and "$ne" in want:
            if have == want["$ne"]:
                return False
        elif have != want:
            return False
    return True
