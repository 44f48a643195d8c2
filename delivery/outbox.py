"""The outbox sweeper: queue again the deliveries of alert events that never got queued.

The service stores an alert event (with its delivery requests) first and marks it queued
after enqueueing; if the broker was down in between, `sweep()` finds it later:

    sweep(store, enqueue=delivery.enqueue, older_than=timedelta(seconds=30)) -> int

Re-queueing is safe: a delivery's id is deterministic and a worker skips an id that
was already sent, so a sweep that races the original enqueue sends nothing twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

from delivery.request import DeliveryRequest

logger = logging.getLogger(__name__)


class OutboxStore(Protocol):
    def unqueued(self, older_than: datetime) -> list[tuple[str, list[DeliveryRequest]]]:
        """Alert events stored before `older_than` whose deliveries were never queued."""

    def mark_queued(self, alert_event_id: str) -> None: ...


def sweep(
    store: OutboxStore,
    enqueue: Callable[[DeliveryRequest], None] | None = None,
    *,
    older_than: timedelta = timedelta(seconds=30),
    now: datetime | None = None,
) -> int:
    """Queue every unqueued alert event's deliveries; returns how many were queued.

    An alert event whose enqueue fails stays unqueued for the next sweep.
    """
    if enqueue is None:
        from delivery.actors import enqueue as default_enqueue

        enqueue = default_enqueue
    cutoff = (now or datetime.now(timezone.utc)) - older_than
    queued = 0
    for alert_event_id, requests in store.unqueued(cutoff):
        try:
            for request in requests:
                enqueue(request)
        except Exception:  # broker still down: leave it for the next sweep
            logger.warning("outbox: could not queue alert event %s", alert_event_id, exc_info=True)
            continue
        store.mark_queued(alert_event_id)
        queued += len(requests)
    return queued


class MemoryOutboxStore:
    """An in-memory `OutboxStore` for tests and embedded use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[datetime, list[DeliveryRequest]]] = {}
        self.queued: set[str] = set()

    def add(self, alert_event_id: str, requests: list[DeliveryRequest],
            stored_at: datetime | None = None) -> None:
        with self._lock:
            self._pending[alert_event_id] = (stored_at or datetime.now(timezone.utc), requests)

    def unqueued(self, older_than: datetime) -> list[tuple[str, list[DeliveryRequest]]]:
        with self._lock:
            return [(aid, reqs) for aid, (at, reqs) in self._pending.items()
                    if aid not in self.queued and at <= older_than]

    def mark_queued(self, alert_event_id: str) -> None:
        with self._lock:
            self.queued.add(alert_event_id)
