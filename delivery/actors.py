"""The Dramatiq `deliver` actor, bound at run time to a broker and a delivery log.

    setup(broker, log)            # StubBroker in tests and embedded mode, RedisBroker else
    enqueue(request)              # one message per delivery
    start a dramatiq Worker on the same broker (delivery.worker does)

Dramatiq actors are module globals; `setup()` declares `tocsin.deliver` on the given
broker (once per broker) and remembers the log, so tests can bind a fresh StubBroker or
a RedisBroker each time. Dramatiq's own retries are off (`max_retries=0`): the pipeline
records each attempt and this module re-sends the message with a delay chosen by
`delivery.retry`. A final failure raises `PermanentDeliveryError` (declared in
`throws=`), which dead-letters the message in the broker without a stack trace.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from dramatiq.broker import Broker

from delivery.errors import PermanentDeliveryError
from delivery.log import DeliveryLog
from delivery.pipeline import DEAD, FAILED_STATUS, run_attempt
from delivery.request import DeliveryRequest
from delivery.runtime import Runtime
from delivery.settings import DeliverySettings

ACTOR_NAME = "tocsin.deliver"
QUEUE_NAME = "tocsin_delivery"
TIME_LIMIT_MS = 5 * 60 * 1000  # an attempt is bounded by its HTTP/SMTP timeout long before


@dataclass
class Binding:
    broker: Broker
    log: DeliveryLog
    actor: dramatiq.Actor
    settings: DeliverySettings | None = None
    _runtime: Runtime | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def runtime(self) -> Runtime:
        # Built on first use, i.e. inside the worker process after any fork.
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = Runtime(self.settings)
        return self._runtime


_binding: Binding | None = None


def setup(
    broker: Broker,
    log: DeliveryLog,
    *,
    settings: DeliverySettings | None = None,
    runtime: Runtime | None = None,
) -> dramatiq.Actor:
    """Bind the `deliver` actor to `broker` and `log`; returns the actor."""
    global _binding
    actor = broker.actors.get(ACTOR_NAME)
    if actor is None:
        options = {"max_retries": 0, "throws": (PermanentDeliveryError,),
                   "time_limit": TIME_LIMIT_MS}
        # Brokers built with fewer middleware reject options nobody would read.
        options = {k: v for k, v in options.items() if k in broker.actor_options}
        actor = dramatiq.Actor(_deliver, broker=broker, actor_name=ACTOR_NAME,
                               queue_name=QUEUE_NAME, priority=0, options=options)
    dramatiq.set_broker(broker)
    if _binding is not None and _binding._runtime is not None and _binding._runtime is not runtime:
        _binding._runtime.close()
    _binding = Binding(broker, log, actor, settings or (runtime.settings if runtime else None),
                       runtime)
    return actor


def binding() -> Binding:
    if _binding is None:
        raise RuntimeError("delivery.setup(broker, log) has not been called in this process")
    return _binding


def enqueue(request: DeliveryRequest, *, delay_seconds: float | None = None) -> None:
    """Queue one delivery. Queueing the same delivery id again is harmless: a worker
    skips an id whose outcome `sent` is already recorded."""
    b = binding()
    delay = int(delay_seconds * 1000) if delay_seconds else None
    b.actor.send_with_options(args=(request.to_dict(),), delay=delay)


def _deliver(request_data: dict[str, Any]) -> None:
    b = binding()
    request = DeliveryRequest.from_dict(request_data)
    step = run_attempt(request, b.runtime, b.log)
    if step.requeue is not None:
        next_request, delay = step.requeue
        b.actor.send_with_options(args=(next_request.to_dict(),), delay=max(int(delay * 1000), 1))
    elif step.final_status in (FAILED_STATUS, DEAD):
        raise PermanentDeliveryError(f"delivery {request.id} {step.final_status}")
