"""The service's side of delivery: the broker, wake-ups, the reconciler.

Embedded default (no broker URL): Dramatiq's in-process `StubBroker` with worker
threads in this process. Production: `TOCSIN_BROKER_URL` (`redis://…` or `amqp://…`;
`TOCSIN_REDIS_URL` still works) and `tocsin worker` processes consuming it.

- `wake(ids)` hands entry ids to the `Waker`, a thread of its own, so a broker that
  hangs (Redis frozen) never stalls the evaluator; wake-ups it cannot send are dropped,
  and the ledger's `due_at` brings those entries back.
- The reconciler (a task, every `TOCSIN_RECONCILE_SECONDS`) wakes every open entry whose
  `due_at` passed: a wake-up lost with the broker, a retry that is due, a claim whose
  worker died. It is what makes the broker a carrier of wake-ups and not a store: after a
  broker restart, a lost message or a service restart, everything still open is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker

from delivery.actors import Wake, birth_claims, queued_here, redis_of, setup, wake_entries
from delivery.ledger import PENDING, SENDING, Claim
from delivery.request import DeliveryRequest
from delivery.settings import DeliverySettings, RetryPolicy
from delivery.worker import WorkerHandle, make_broker, oldest_queued, start_in_process
from service.config import Config
from service.db import Database
from service.ledger_store import MongoLedger, due_entries, mark_woken

log = logging.getLogger("tocsin.delivery")

IN_PROCESS_THREADS = 16
RECONCILE_BATCH = 1000
WAKER_BACKLOG = 100_000  # ids; beyond it wake-ups are dropped (the reconciler has them)
LOOK_AGAIN_GRACES = 3  # RabbitMQ holding messages: a never-attempted entry is woken again after this many graces


class Waker:
    """Sends wake-ups (`delivery.actors.wake_entries` items) from its own thread, in
    batches, never blocking the caller."""

    def __init__(self, send: Callable[[list[Wake]], object]) -> None:
        self.send = send
        self._cond = threading.Condition()
        self._items: list[Wake] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="waker", daemon=True)
        self._thread.start()

    def put(self, items: Iterable[Wake]) -> None:
        with self._cond:
            room = WAKER_BACKLOG - len(self._items)
            self._items.extend(list(items)[: max(room, 0)])
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._items or self._stopped)
                if self._stopped:
                    return
                batch, self._items = self._items, []
            try:
                self.send(batch)
            except Exception as exc:  # broker away: the entries stay due in the ledger
                log.warning("could not wake %d deliveries (%s: %s); the reconciler will",
                            len(batch), type(exc).__name__, exc)


def broker_url(config: Config) -> str | None:
    return config.broker_url or config.redis_url


def delivery_settings(config: Config) -> DeliverySettings:
    """The delivery settings of `config`: the one reading of `TOCSIN_*` for the service's
    reconciler and in-process workers and for `tocsin worker`."""
    retry = RetryPolicy(max_attempts=config.delivery_max_attempts, base=config.delivery_retry_base,
                        max_age=config.delivery_max_age)
    by_kind = {}
    for kind, override in config.delivery_retry_by_kind.items():
        changes = {attr: value for attr, value in (("max_attempts", override.max_attempts),
                                                   ("base", override.retry_base), ("max_age", override.max_age))
                   if value is not None}
        if changes:
            by_kind[kind] = replace(retry, **changes)
    return DeliverySettings(
        broker_url=broker_url(config), queue_name=config.delivery_queue,
        lease_seconds=config.delivery_lease_seconds, wake_grace_seconds=config.delivery_wake_grace_seconds,
        reconcile_seconds=config.reconcile_seconds, smtp_url=config.smtp_url, smtp_from=config.smtp_from,
        sms_url=config.sms_url, sms_from=config.sms_from, deny_private=config.webhook_deny_private,
        retry=retry, retry_by_kind=by_kind)


def describe_broker(config: Config) -> str:
    url = broker_url(config)
    if not url:
        return "in-process broker and workers"
    parts = urlsplit(url)
    kind = "RabbitMQ" if parts.scheme.startswith("amqp") else "Redis"
    return f"{kind} broker {parts.hostname or ''}"  # no credentials


class DeliveryBridge:
    def __init__(self, config: Config, db: Database, uri: str,
                 settings: DeliverySettings | None = None) -> None:
        self.config = config
        self.db = db
        self.uri = uri
        self.settings = settings or delivery_settings(config)
        self.broker: Broker | None = None
        self.worker: WorkerHandle | None = None
        self.ledger: MongoLedger | None = None
        self.waker: Waker | None = None
        self._reconciler: asyncio.Task | None = None
        self.held_seen = 0  # due entries the last round left to this process's workers or the broker

    async def start(self) -> None:
        await asyncio.to_thread(self._setup)
        self._reconciler = asyncio.create_task(self._reconcile_forever(), name="ledger-reconciler")

    def _setup(self) -> None:

        self.ledger = MongoLedger(self.uri, self.config.mongodb_database, recent=self.db.recent)
        url = broker_url(self.config)
        if url:
            self.broker = make_broker(url)
            setup(self.broker, self.ledger, settings=self.settings, queue_name=self.settings.queue_name)
        else:
            self.broker = StubBroker()
            self.broker.emit_after("process_boot")
            self.worker = start_in_process(self.broker, self.ledger, threads=IN_PROCESS_THREADS,
                                           settings=self.settings)
        self.waker = Waker(wake_entries)

    async def stop(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
        if self.waker is not None:
            self.waker.stop()
        if self.worker is not None:
            await asyncio.to_thread(self.worker.stop)
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.broker.close)
        if self.ledger is not None:
            await asyncio.to_thread(self.ledger.close)  # writes the outcomes still queued

    def birth_claims(self, requests: list[DeliveryRequest], now: datetime) -> list[Claim]:
        """Claims to write new entries with when this process's workers send them."""
        if self.waker is None:
            return []
        return birth_claims(requests, now)

    def wake(self, ids: list[str], claims: Sequence[Claim] = (), requests: Sequence[DeliveryRequest] = ()) -> None:
        """Wake the entries `ids`: those written with one of `claims` go to the local
        workers with their claim, those of `requests` (fresh entries) with their request,
        the others by id alone."""
        if not ids or self.waker is None:
            return
        written = set(ids)
        items: dict[str, Wake] = {i: i for i in ids}
        for r in requests:
            if r.id in written:
                items[r.id] = r
        for c in claims:
            if c.id in written:
                items[c.id] = c
        self.waker.put(items.values())

    async def reconcile(self, now: datetime | None = None) -> int:
        """Wake every due open entry once, but those this process still holds and those
        whose wake-up still waits in the broker; returns how many were woken."""
        now = now or datetime.now(timezone.utc)
        due = await due_entries(self.db, now, RECONCILE_BATCH)
        self.held_seen = 0
        if due:
            held = self._held_here() | await self._still_queued(due, now)
            self.held_seen = sum(1 for d in due if d["_id"] in held)
            due = [d for d in due if d["_id"] not in held]
        ids = [d["_id"] for d in due]
        if ids:
            await mark_woken(self.db, ids, now, wake_grace=self.settings.wake_grace_seconds)
            self.wake(ids)
        return len(ids)

    async def _still_queued(self, due: list[dict], now: datetime) -> set[str]:
        """Never-attempted entries whose last wake-up is younger than the oldest one the
        broker still holds (`tocsin worker` processes): that wake-up waits in the queue,
        which is first in, first out. (An entry born claimed for Redis workers, `sending`
        and never attempted, counts its birth as its last wake-up: behind a backlog
        longer than its lease it would be woken again as well.) In a storm on a slow
        database the queue held a minute of wake-ups, and waking those entries again
        each grace period cost the database a write per entry, the workers a claim that
        failed, and the storm half its throughput (bench_storm --mode redis: 116
        against 65-80 notifications/s with the re-waking off). A broker restarted empty,
        a wake-up that could not be sent, a claim that failed with the database away:
        the queue's head soon passes those entries' wake-ups, and they are woken as
        before. Any doubt (the broker cannot be asked) wakes them."""
        if self.broker is None or self.worker is not None:  # in-process workers: `_held_here`
            return set()
        grace = self.settings.wake_grace_seconds
        try:
            head = await asyncio.to_thread(oldest_queued, self.broker, self.settings.queue_name,
                                           default_age=LOOK_AGAIN_GRACES * grace)
        except Exception:
            return set()
        if head is None:
            return set()
        return {d["_id"] for d in due
                if d.get("first_attempt_at") is None and (last := _last_wake(d, grace)) is not None and last >= head}

    def _held_here(self) -> set[str]:
        """Entries this process will still send or record: woken with their birth claim and
        waiting for a local worker, or sent with their outcome not yet written. In a storm
        their leases can run out in the database while they wait; waking them again only
        piled duplicate wake-ups and `mark_woken` writes onto the backlog that made them
        late (one run of the storm bench collapsed that way)."""
        held: set[str] = set()
        if self.worker is not None:  # in-process workers
            held |= queued_here()
        if self.ledger is not None:
            held |= self.ledger.unwritten()
        return held

    async def _reconcile_forever(self) -> None:
        while True:
            try:
                woken = await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again next period
                log.warning("ledger reconcile failed (%s: %s)", type(exc).__name__, exc)
                woken = 0
            if self.held_seen:
                # Entries this process holds are due (a storm's backlog): they stay due, as
                # they are not marked woken, and reading them every second is what the
                # embedded database can least afford (it decodes every due entry). Look
                # again after a wake-up's grace, as a marked entry would be.
                await asyncio.sleep(self.settings.wake_grace_seconds)
            elif woken < RECONCILE_BATCH:
                await asyncio.sleep(self.settings.reconcile_seconds)

    async def ping(self) -> bool:
        if not broker_url(self.config):
            return True
        if self.broker is None:
            return False
        try:
            return await asyncio.to_thread(_ping, self.broker)
        except Exception:
            return False


def _ping(broker: Broker) -> bool:
    redis = redis_of(broker)
    if redis is not None:
        return bool(redis[0].ping())
    broker.get_declared_queues()  # RabbitMQ: opens (or reuses) a channel
    return bool(broker.connection.is_open)


def _last_wake(entry: dict, grace: float) -> datetime | None:
    """When a never-attempted entry was last woken: a pending entry's `due_at` is that
    plus the grace (delivery/ledger.py); one born claimed was woken at its birth."""
    if entry.get("state") == PENDING:
        return entry["due_at"] - timedelta(seconds=grace)
    if entry.get("state") == SENDING:
        return entry.get("created_at")
    return None
