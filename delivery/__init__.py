"""Delivery: notifications over webhook, Slack, PagerDuty, Opsgenie, e-mail and SMS (`delivery/channels/`).

    from delivery import setup, wake
    from delivery.request import build_requests
    setup(broker, ledger)                    # bind the Dramatiq actor (StubBroker, Redis, RabbitMQ)
    ledger entries are written by the service (one per request of build_requests(...))
    wake([request.id for request in requests])

The delivery ledger (`delivery.ledger`) is the only record of what must still be sent;
the broker carries wake-ups. Each delivery moves through claim -> render -> send ->
classify -> record (`delivery.actors.deliver`, `delivery.pipeline.attempt`); channels
register themselves in `delivery.channels`; retries follow `delivery.retry`; the SSRF
guard is `delivery.ssrf`; workers are started by `delivery.worker`. See docs/delivery.md.
"""

from __future__ import annotations

from delivery.actors import deliver, setup, wake
from delivery.ledger import Ledger, MemoryLedger
from delivery.request import DeliveryRequest, build_requests

__all__ = ["setup", "wake", "deliver", "Ledger", "MemoryLedger", "DeliveryRequest", "build_requests"]
