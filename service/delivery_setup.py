"""Broker and workers for `tocsin serve`: Redis when configured, else all in-process."""

from __future__ import annotations

from typing import Any

from delivery import setup
from delivery.worker import redis_broker, start_in_process
from service.config import Config
from service.delivery_log import MongoDeliveryLog

IN_PROCESS_THREADS = 8


def setup_delivery(config: Config, uri: str) -> tuple[Any, Any]:
    """(broker, in-process worker handle or None). Blocking: call from a thread."""
    log = MongoDeliveryLog(uri, config.mongodb_database)
    if config.redis_url:
        broker = redis_broker(config.redis_url)
        setup(broker, log)
        return broker, None
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
    return broker, start_in_process(broker, log, threads=IN_PROCESS_THREADS)
