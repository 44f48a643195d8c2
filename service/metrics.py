"""Prometheus metrics of one service process (`GET /metrics`, text format 0.0.4).

Counters and the latency histogram are this process's own; the gauges (alerts by state,
deliveries by outcome, queue depth) are read from MongoDB at scrape time, so every
replica reports the same cluster-wide figures for them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from delivery.ledger import STATES
from service.db import Database
from service.ledger_store import oldest_pending_age

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

disable_created_metrics()  # `_created` series only add noise to a scrape


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.events_accepted = Counter("tocsin_events_accepted", "Events stored", registry=r)
        self.events_duplicate = Counter("tocsin_events_duplicate", "Events repeated by id", registry=r)
        self.events_rejected = Counter("tocsin_events_rejected", "Events in rejected requests", registry=r)
        self.events_evaluated = Counter("tocsin_events_evaluated", "Events fed to the engine", registry=r)
        self.evaluation_latency = Histogram(
            "tocsin_evaluation_latency_seconds",
            "From storing an event to the end of its evaluation",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.alert_events = Counter("tocsin_alert_events", "Alert events written", ["kind"], registry=r)
        # `_total` is added by the client: tocsin_monitor_errors_total{monitor}
        self.monitor_errors = Counter("tocsin_monitor_errors",
                                      "Monitors this process quarantined after an evaluation error",
                                      ["monitor"], registry=r)
        self.alerts = Gauge("tocsin_alerts", "Alerts by state", ["state"], registry=r)
        self.deliveries = Gauge("tocsin_deliveries", "Delivery ledger entries by state", ["state"], registry=r)
        self.oldest_pending = Gauge("tocsin_delivery_oldest_open_seconds",
                                    "Age of the oldest pending or sending ledger entry", registry=r)
        self.rules_version = Gauge("tocsin_rules_version", "Active rule set version", registry=r)

    async def refresh(self, db: Database) -> None:
        """Read the cluster-wide gauges from the database."""
        self.alerts.clear()
        for state in ("pending", "firing", "resolved"):
            self.alerts.labels(state).set(0)
        async for row in await db.alerts.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            self.alerts.labels(str(row["_id"])).set(row["n"])
        self.deliveries.clear()
        for state in STATES:
            self.deliveries.labels(state).set(0)
        pipeline = [{"$group": {"_id": "$state", "n": {"$sum": 1}}}]
        async for row in await db.deliveries.aggregate(pipeline):
            self.deliveries.labels(str(row["_id"])).set(row["n"])
        self.oldest_pending.set(await oldest_pending_age(db, datetime.now(timezone.utc)))

    def render(self) -> bytes:
        return generate_latest(self.registry)
