"""Delivery: notifications over webhook, Slack, PagerDuty, e-mail and SMS.

    from delivery import setup, enqueue
    from delivery.request import build_requests
    setup(broker, log)                       # bind the Dramatiq actor (StubBroker or Redis)
    for request in build_requests(alert_event, ruleset, public_url=url):
        enqueue(request)

Each delivery moves through render -> send -> classify -> record (`delivery.pipeline`);
channels register themselves in `delivery.channels`; retries follow `delivery.retry`;
the SSRF guard is `delivery.ssrf`; workers are started by `delivery.worker`.
See docs/delivery.md.
"""

from __future__ import annotations

from delivery.actors import enqueue, setup
from delivery.log import DeliveryLog, MemoryDeliveryLog
from delivery.request import DeliveryRequest, build_requests

__all__ = ["setup", "enqueue", "DeliveryLog", "MemoryDeliveryLog", "DeliveryRequest",
           "build_requests"]
