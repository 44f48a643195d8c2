"""Running the `deliver` actor: Dramatiq worker processes, or threads in this process.

    broker = make_broker("redis://…" or "amqp://…")          # None: in-process StubBroker
    run_worker(url, ledger_factory, processes=2, threads=32)  # blocks; `tocsin worker`
    handle = start_in_process(StubBroker(), ledger, threads=8) # embedded `tocsin serve`
    handle.stop()

`run_worker` forks `processes` children, each with its own broker connection, ledger
and Dramatiq `Worker`, and returns when SIGTERM/SIGINT stops them all (exit code 0,
else the first non-zero child code). `ledger` may be a `Ledger` or a zero-argument
factory of one; pass a factory when the ledger holds connections that must not cross a
fork (a `MongoClient`), so every child opens its own.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dramatiq import Message, Worker
from dramatiq.broker import Broker

from delivery.actors import binding, redis_of, setup
from delivery.ledger import Ledger
from delivery.settings import DeliverySettings

LedgerSource = Ledger | Callable[[], Ledger]


@dataclass
class WorkerHandle:
    """An in-process worker; `stop()` waits for in-flight deliveries to finish."""

    worker: Worker
    broker: Broker

    def stop(self, timeout_ms: int = 10_000) -> None:
        self.worker.stop(timeout=timeout_ms)


def start_in_process(
    broker: Broker, ledger: Ledger, *, threads: int = 8,
    settings: DeliverySettings | None = None,
) -> WorkerHandle:
    """Bind the actor to `broker` and start `threads` worker threads in this process."""
    setup(broker, ledger, settings=settings,
          queue_name=settings.queue_name if settings else "tocsin_delivery")
    binding().local = True
    worker = Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return WorkerHandle(worker, broker)


def _middleware() -> list:
    # Only what `deliver` uses (time limit, retries off, shutdown notice): Dramatiq's
    # callbacks, pipelines and age limit cost CPU per message.
    from dramatiq.middleware import Retries, ShutdownNotifications, TimeLimit

    return [TimeLimit(), ShutdownNotifications(), Retries(max_retries=0)]


def make_broker(url: str) -> Broker:
    """A Dramatiq broker for `redis://`/`rediss://` or `amqp://`/`amqps://` URLs."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        from dramatiq.brokers.redis import RedisBroker

        # Socket timeouts: a frozen Redis fails a wake-up or a ping instead of hanging it.
        return RedisBroker(url=url, middleware=_middleware(), socket_timeout=5.0, socket_connect_timeout=2.0)
    if scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Publisher confirms: a wake-up the broker did not take raises (the ledger keeps it).
        return RabbitmqBroker(url=url, middleware=_middleware(), confirm_delivery=True)
    raise ValueError(f"unsupported broker URL scheme {scheme!r} (use redis:// or amqp://)")


def oldest_queued(broker: Broker, queue_name: str, *, default_age: float) -> datetime | None:
    """When the oldest wake-up still waiting in `queue_name` was sent; None when the
    queue is empty. Redis: the message at the head of the queue (Dramatiq's queues are
    first in, first out). RabbitMQ cannot show its head without taking it, so a queue
    that holds messages answers `default_age` seconds ago. Raises when the broker cannot
    be asked."""
    redis = redis_of(broker)
    if redis is not None:
        client, namespace = redis
        head = client.lindex(f"{namespace}:{queue_name}", 0)
        if head is None:
            return None
        data = client.hget(f"{namespace}:{queue_name}.msgs", head)
        if data is None:  # taken meanwhile
            return None
        return datetime.fromtimestamp(Message.decode(data).message_timestamp / 1000, timezone.utc)
    counts = getattr(broker, "get_queue_message_counts", None)
    if counts is not None:  # RabbitMQ
        return datetime.now(timezone.utc) - timedelta(seconds=default_age) if counts(queue_name)[0] else None
    return None


def _resolve(ledger: LedgerSource) -> Ledger:
    return ledger if hasattr(ledger, "claim") else ledger()  # type: ignore[operator]


def _serve(broker_url: str, ledger: LedgerSource, threads: int, settings: DeliverySettings | None) -> int:
    """One worker process: run until SIGTERM/SIGINT, then drain and stop."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    resolved = _resolve(ledger)
    handle = start_in_process(make_broker(broker_url), resolved, threads=threads, settings=settings)
    try:
        stop.wait()
    finally:
        handle.stop()
        close = getattr(resolved, "close", None)
        if close is not None:
            close()  # outcomes still queued are written before the process exits
    return 0


def _child(broker_url: str, ledger: LedgerSource, threads: int, settings: DeliverySettings | None) -> None:
    os._exit(_serve(broker_url, ledger, threads, settings))


def run_worker(broker_url: str, ledger: LedgerSource, *, processes: int = 1, threads: int = 8,
               settings: DeliverySettings | None = None) -> int:
    """Serve deliveries from the broker at `broker_url` until signalled."""
    if processes <= 1:
        return _serve(broker_url, ledger, threads, settings)
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_child, args=(broker_url, ledger, threads, settings), daemon=False)
                for _ in range(processes)]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for child in children:
        child.start()
    while not stop.is_set() and all(c.is_alive() for c in children):
        stop.wait(0.5)
    for child in children:
        if child.is_alive() and child.pid:
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        child.join()
    codes = [c.exitcode or 0 for c in children]
    return next((c for c in codes if c != 0), 0)
