"""The service's side of delivery: broker set-up, enqueueing alert events, the sweeper.

Embedded default (no `TOCSIN_REDIS_URL`): Dramatiq's in-process `StubBroker` with
worker threads in this process. Production: a `RedisBroker`; `tocsin worker` processes
consume it. The delivery log (attempts, `notification.*` events) lives in MongoDB
(`service.delivery_log`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from service.config import Config
from service.db import Database
from service.delivery_log import note_queued

log = logging.getLogger("tocsin.delivery")

SWEEP_SECONDS = 10.0
SWEEP_MIN_AGE = timedelta(seconds=5)


class DeliveryBridge:
    def __init__(self, config: Config, db: Database, metrics: Any, uri: str) -> None:
        self.config = config
        self.uri = uri
        self.db = db
        self.metrics = metrics
        self.broker: Any = None
        self.worker: Any = None
        self.available = False
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        try:
            from service.delivery_setup import setup_delivery
        except ImportError as exc:  # the delivery package is not complete in this build
            log.warning("delivery unavailable (%s); alert events stay in the outbox", exc)
            return
        self.broker, self.worker = await asyncio.to_thread(setup_delivery, self.config, self.uri)
        self.available = True
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="outbox-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self.worker is not None:
            await asyncio.to_thread(self.worker.stop)
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.broker.close)

    async def enqueue_alert_event(self, alert_event: Any, ruleset: Any) -> bool:
        """Queue one message per destination; True once all are on the broker."""
        if alert_event.muted:
            return True
        if not self.available:
            return False
        from delivery import enqueue
        from delivery.request import build_requests

        requests = build_requests(alert_event, ruleset, public_url=self.config.base_url)
        try:
            await note_queued(self.db, requests)
            await asyncio.to_thread(lambda: [enqueue(r) for r in requests])
        except Exception:
            log.exception("broker unavailable; %s stays in the outbox", alert_event.id)
            return False
        return True

    async def ping(self) -> bool:
        if not self.config.redis_url:
            return True
        if self.broker is None:
            return False
        try:
            return bool(await asyncio.to_thread(self.broker.client.ping))
        except Exception:
            return False

    async def _sweep_forever(self) -> None:
        """Re-queue alert events that were stored but never queued (broker down, crash)."""
        from service.outbox import alert_event_from_doc

        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                cutoff = datetime.now(timezone.utc) - SWEEP_MIN_AGE
                ruleset = None
                async for doc in self.db.alert_events.find({"queued": False, "created_at": {"$lt": cutoff}}).limit(500):
                    ruleset = ruleset or _active_ruleset(self)
                    if await self.enqueue_alert_event(alert_event_from_doc(doc), ruleset):
                        await self.db.alert_events.update_one({"_id": doc["_id"]}, {"$set": {"queued": True}})
            except Exception:
                log.exception("outbox sweep failed")


def _active_ruleset(bridge: DeliveryBridge) -> Any:
    return getattr(bridge, "ruleset_provider", lambda: None)()
