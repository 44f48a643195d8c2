"""Running the `deliver` actor: Dramatiq worker processes, or threads in this process.

    run_worker("redis://…", log, processes=2, threads=32)    # blocks; `tocsin worker`
    handle = start_in_process(StubBroker(), log, threads=8)  # embedded `tocsin serve`
    handle.stop()

`run_worker` forks `processes` children, each with its own RedisBroker, Runtime and
Dramatiq `Worker`, and returns when SIGTERM/SIGINT stops them all (exit code 0, else
the first non-zero child code). `log` may be a `DeliveryLog` or a zero-argument factory
of one; pass a factory when the log holds connections that must not cross a fork
(a `MongoClient`), so every child opens its own.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dramatiq import Worker
from dramatiq.broker import Broker

from delivery.actors import setup
from delivery.log import DeliveryLog
from delivery.settings import DeliverySettings

LogSource = DeliveryLog | Callable[[], DeliveryLog]


@dataclass
class WorkerHandle:
    """An in-process worker; `stop()` waits for in-flight deliveries to finish."""

    worker: Worker
    broker: Broker

    def stop(self, timeout_ms: int = 10_000) -> None:
        self.worker.stop(timeout=timeout_ms)


def start_in_process(
    broker: Broker, log: DeliveryLog, *, threads: int = 8,
    settings: DeliverySettings | None = None,
) -> WorkerHandle:
    """Bind the actor to `broker` and start `threads` worker threads in this process."""
    setup(broker, log, settings=settings)
    worker = Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return WorkerHandle(worker, broker)


def _resolve_log(log: LogSource) -> DeliveryLog:
    if isinstance(log, type) or not isinstance(log, DeliveryLog):
        return log()
    return log


def redis_broker(url: str) -> Broker:
    """A RedisBroker with only the middleware `deliver` uses (time limit, retries off,
    shutdown notice); Dramatiq's callbacks, pipelines and age limit cost CPU per message."""
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.middleware import Retries, ShutdownNotifications, TimeLimit

    return RedisBroker(url=url, middleware=[TimeLimit(), ShutdownNotifications(),
                                            Retries(max_retries=0)])


def _serve(broker_url: str, log: LogSource, threads: int) -> int:
    """One worker process: run until SIGTERM/SIGINT, then drain and stop."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    handle = start_in_process(redis_broker(broker_url), _resolve_log(log), threads=threads)
    try:
        stop.wait()
    finally:
        handle.stop()
    return 0


def _child(broker_url: str, log: LogSource, threads: int) -> None:
    os._exit(_serve(broker_url, log, threads))


def run_worker(broker_url: str, log: LogSource, *, processes: int = 1, threads: int = 8) -> int:
    """Serve deliveries from the Redis broker at `broker_url` until signalled."""
    if processes <= 1:
        return _serve(broker_url, log, threads)
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_child, args=(broker_url, log, threads), daemon=False)
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
