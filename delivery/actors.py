"""The Dramatiq `deliver` actor: a wake-up for one ledger entry.

    setup(broker, ledger, settings=…)   # StubBroker (embedded), Redis or RabbitMQ
    wake(["dlv_…", …])                  # one small message per entry id
    start a dramatiq Worker on the same broker (delivery.worker does)

A message carries the entry's id, and for a fresh entry woken by a worker in another
process also its request (a copy: the ledger holds it). The actor claims the entry
(nothing else sends it while the claim's lease holds; with the request, one conditional
update and no read), sends it once and records the outcome (`delivery.pipeline.attempt`).
A message for an entry that is not claimable (already sent, claimed by a live worker,
not yet due) does nothing, so a duplicate or late wake-up is harmless.

Birth claims. A fresh entry can be written already claimed (`sending`, a token, a lease
from its birth), so that no claim is written at all:
- workers of the writing process (the embedded default) find the claim in memory
  (`Binding.prepared`);
- with a Redis broker, the wake-up carries the claim (`birth`: token, lease end, lease)
  to a `tocsin worker` in another process, which adopts it with one `SET NX` in Redis
  (`_adopt`) instead of an update of the database: every copy of that wake-up (Dramatiq
  requeues a dead worker's messages; a timed-out enqueue may have gone through twice)
  competes for the one key, which lives as long as the birth lease. A copy that finds
  less than two thirds of that lease left renews it in the ledger first (one conditional
  update, as a late local one does). After the lease, ordinary claims apply. RabbitMQ
  has no such lock at hand: its entries are born `pending` and claimed as above.

Retries are not messages: the ledger keeps `next_attempt_at` and the reconciler wakes
the entry when it is due. Dramatiq's own retries are off; a database outage during the
claim drops the wake-up (the entry stays due in the ledger and is woken again), never
the delivery.

Dramatiq actors are module globals; `setup()` declares `tocsin.deliver` on the given
broker (once per broker) and remembers the ledger, so tests can bind a fresh broker.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dramatiq
from dramatiq.broker import Broker

from delivery.ledger import Claim, Ledger, birth_claim, lease_for
from delivery.request import DeliveryRequest
from delivery.outcome_log import log_outcome
from delivery.pipeline import attempt
from delivery.runtime import WorkerResources
from delivery.settings import DeliverySettings

log = logging.getLogger("tocsin.delivery")

ACTOR_NAME = "tocsin.deliver"
QUEUE_NAME = "tocsin_delivery"
TIME_LIMIT_MS = 5 * 60 * 1000  # an attempt is bounded by its HTTP/SMTP timeout long before


@dataclass
class Binding:
    broker: Broker
    ledger: Ledger
    actor: dramatiq.Actor
    settings: DeliverySettings | None = None
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    local: bool = False  # workers consume in this process: entries may be born claimed
    prepared: dict[str, Claim] = field(default_factory=dict, repr=False)
    _runtime: WorkerResources | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def runtime(self) -> WorkerResources:
        # Built on first use, i.e. inside the worker process after any fork.
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = WorkerResources(self.settings)
        return self._runtime


_binding: Binding | None = None


def setup(
    broker: Broker,
    ledger: Ledger,
    *,
    settings: DeliverySettings | None = None,
    runtime: WorkerResources | None = None,
    queue_name: str = QUEUE_NAME,
) -> dramatiq.Actor:
    """Bind the `deliver` actor to `broker` and `ledger`; returns the actor."""
    global _binding
    actor = broker.actors.get(ACTOR_NAME)
    if actor is None:
        options = {"max_retries": 0, "time_limit": TIME_LIMIT_MS}
        # Brokers built with fewer middleware reject options nobody would read.
        options = {k: v for k, v in options.items() if k in broker.actor_options}
        actor = dramatiq.Actor(_deliver, broker=broker, actor_name=ACTOR_NAME,
                               queue_name=queue_name, priority=0, options=options)
    dramatiq.set_broker(broker)
    if _binding is not None and _binding._runtime is not None and _binding._runtime is not runtime:
        _binding._runtime.close()
    _binding = Binding(broker, ledger, actor, settings or (runtime.settings if runtime else None),
                       _runtime=runtime)
    return actor


def binding() -> Binding:
    if _binding is None:
        raise RuntimeError("delivery.setup(broker, ledger) has not been called in this process")
    return _binding


Wake = str | Claim | DeliveryRequest


def wake_entries(items: Iterable[Wake]) -> int:
    """Send one wake-up per ledger entry; returns how many went out. Raises when the
    broker refuses (the entries stay due in the ledger: nothing is lost). An item is:
    - an entry id: the worker claims the entry from the ledger;
    - a birth `Claim` (the entry was written claimed by it, `birth_claims`): a worker of
      this process finds it here and sends with no claim round trip; a worker in
      another process (Redis) gets it in the message and adopts it (`_adopt`);
    - a fresh entry's `DeliveryRequest`: a worker in another process gets the request in
      the message and claims the entry with one conditional update and no read of it
      (`Ledger.claim(request=)`); in this process, the same as its id."""
    b = binding()
    sent = 0
    for item in items:
        if isinstance(item, Claim) and b.local:
            with b._lock:
                b.prepared[item.id] = item
            b.actor.send(item.id)
        elif isinstance(item, Claim):
            b.actor.send(item.id, item.request.to_dict(), _birth_message(item, _lease(b)))
        elif isinstance(item, DeliveryRequest):
            if b.local:
                b.actor.send(item.id)
            else:
                b.actor.send(item.id, item.to_dict())
        else:
            b.actor.send(item)
        sent += 1
    return sent


def wake(delivery_ids: Iterable[str]) -> int:
    """Wake entries by id (`wake_entries`)."""
    return wake_entries(delivery_ids)


def birth_claims(requests: Iterable[DeliveryRequest], now: datetime) -> list[Claim]:
    """Claims for entries about to be written, when this process's own workers will send
    them (embedded mode) or workers elsewhere can adopt them (a Redis broker): the entry
    is born `sending` and needs no claim written. Empty otherwise (RabbitMQ: workers
    claim from the ledger)."""
    b = binding()
    if not b.local and redis_of(b.broker) is None:
        return []
    lease = _lease(b)
    return [birth_claim(r, f"{b.worker_id}:{uuid.uuid4().hex[:8]}", now, lease) for r in requests]


def queued_here() -> set[str]:
    """Entries woken with their birth claim and still waiting for a local worker."""
    b = binding()
    with b._lock:
        return set(b.prepared)


def deliver(delivery_id: str, *, now: datetime | None = None, request: DeliveryRequest | None = None,
            birth: dict[str, Any] | None = None) -> str | None:
    """Claim, send once and record one entry; returns the recorded state, or None when
    the entry was not ours to send (or the database could not be reached). `request` is
    the fresh entry's request a wake-up from another process carried, `birth` the claim
    it was written with (`_birth_message`)."""
    b = binding()
    now = now or datetime.now(timezone.utc)
    token = f"{b.worker_id}:{uuid.uuid4().hex[:8]}"
    with b._lock:
        prepared = b.prepared.pop(delivery_id, None)
    try:
        if prepared is not None and prepared.lease_until <= now:
            # Its lease ran out while it waited in a storm's queue: still ours if nobody
            # took it meanwhile (one conditional update), else claimed like any entry.
            prepared = b.ledger.renew(prepared, now=now, lease=_lease(b))
        elif birth is not None and request is not None:
            prepared = _adopt(b, request, birth, now=now, token=token)
            if prepared is None:
                return None
        claim = prepared or b.ledger.claim(delivery_id, now=now, lease=_lease(b), token=token, request=request)
    except Exception as exc:  # the database is away: the entry stays due, it is woken again
        log.warning("delivery %s not claimed (%s: %s); the reconciler will wake it again",
                    delivery_id, type(exc).__name__, exc)
        return None
    if claim is None:
        return None
    outcome = attempt(claim, b.runtime, now=now)
    b.ledger.record(outcome)
    log_outcome(claim.request, outcome)
    return outcome.state


# A copy of a birth claim's wake-up adopts it without a write while this much of the
# birth lease is left: enough for the send (a lease is three channel timeouts) and for
# the outcome's write (`tocsin worker` holds its threads while outcomes lag a third).
ADOPT_LEFT = 2 / 3


def _lease(b: Binding) -> float:
    return (b.settings or b.runtime.settings).lease_seconds


def redis_of(broker: Broker) -> tuple[Any, str] | None:
    """(Redis client, Dramatiq's key namespace) when `broker` is a Redis broker, else
    None (RabbitMQ, the in-process StubBroker)."""
    client = getattr(broker, "client", None)
    if client is None:
        return None
    return client, getattr(broker, "namespace", "dramatiq")


def _birth_message(claim: Claim, lease: float) -> dict[str, Any]:
    return {"token": claim.token, "lease_until_ms": int(claim.lease_until.timestamp() * 1000),
            "lease_seconds": lease_for(claim.request, lease)}


def _adopt(b: Binding, request: DeliveryRequest, birth: dict[str, Any], *, now: datetime,
           token: str) -> Claim | None:
    """The birth claim a wake-up carried, if this copy of the wake-up is the one that
    takes it (`SET NX` on a key that lives as long as the birth lease); None when
    another copy took it. A copy that finds too little lease left renews it in the
    ledger; one that finds it over, or cannot reach Redis, claims like any wake-up
    (which fails while the birth lease holds: the reconciler wakes the entry when it
    ends)."""
    birth_claim = Claim(request, birth["token"], 1, None,
                        datetime.fromtimestamp(birth["lease_until_ms"] / 1000, timezone.utc))
    left = (birth_claim.lease_until - now).total_seconds()
    redis = redis_of(b.broker)
    ours = False
    if left > 0 and redis is not None:
        client, namespace = redis
        try:
            ours = client.set(f"{namespace}:tocsin.adopted:{request.id}", token, nx=True,
                              px=max(1, int(left * 1000)))
        except Exception as exc:
            log.warning("delivery %s: birth claim not adopted (%s: %s); claiming it from the ledger",
                        request.id, type(exc).__name__, exc)
        else:
            if not ours:
                return None  # another copy of this wake-up holds it
    if ours and left >= ADOPT_LEFT * float(birth["lease_seconds"]):
        return birth_claim
    renewed = b.ledger.renew(birth_claim, now=now, lease=_lease(b)) if ours else None
    return renewed or b.ledger.claim(request.id, now=now, lease=_lease(b), token=token, request=request)


def _deliver(delivery_id: str, request: dict | None = None, birth: dict | None = None) -> None:
    deliver(delivery_id, request=DeliveryRequest.from_dict(request) if request else None, birth=birth)


__all__ = ["setup", "binding", "wake", "wake_entries", "birth_claims", "queued_here", "deliver", "redis_of"]
