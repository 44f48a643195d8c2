"""The composition root: a service process's collaborators, each built from the one `Config`.

    app = create_app(config)                      # service/app.py: routes and a ServiceProcess
    process = ServiceProcess(config, metrics, clock)
    await process.start()                         # calls the builders below, in this order

`open_database` (the embedded SecantusDB when no `TOCSIN_MONGODB_URI`), `join_replicas`
(when this process evaluates), the `RulesStore`, `delivery_bridge` (with the delivery
settings of the same `Config`, as `tocsin worker` builds them) and `build_evaluators`
(one per partition). Each part receives what it needs and nothing that owns it: an
evaluator gets the database, the rule source, its outbox, its lease, its settings, the
metrics, the clock and two callables (is the partition still this replica's; events were
stored), never the process. The routes read their collaborators from `ServiceContext`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from service.clock import Clock
from service.config import Config
from service.db import Database
from service.delivery_bridge import DeliveryBridge, delivery_settings
from service.embedded import EmbeddedDatabase
from service.evaluator import Evaluator, EvaluatorSettings
from service.lease import Lease, new_owner_id
from service.membership import Membership
from service.metrics import Metrics
from service.outbox import Outbox
from service.partitions import partitions
from service.rules_store import RulesStore

if TYPE_CHECKING:  # the process and the routes import this module
    from service.event_store import EventWriter
    from service.process import ServiceProcess
    from service.routes.ops import BoundedCheck


@dataclass
class ServiceContext:
    """What the routes read from `app.ctx`: the configuration, the metrics, the process's
    database and rules (set once it started) and the process, for the signals the routes
    give it (events stored, rules or silences changed, a command stored)."""

    config: Config
    metrics: Metrics
    process: ServiceProcess
    db: Database | None = None
    rules: RulesStore | None = None
    openapi_documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # by base URL
    # Made on first use by their routes: they belong to the running loop.
    event_writer: EventWriter | None = None
    readiness_checks: dict[str, BoundedCheck] | None = None


async def open_embedded(config: Config) -> tuple[EmbeddedDatabase, str]:
    """Start the embedded SecantusDB in `TOCSIN_DATA_DIR`; returns it and its URI."""
    embedded = EmbeddedDatabase(config.data_dir)
    return embedded, await asyncio.to_thread(embedded.start)


async def open_database(config: Config, uri: str) -> Database:
    """The database client, with its indexes (and the retention's TTL) in place."""
    db = Database.connect(uri, config.mongodb_database)
    await db.ensure_indexes(config.retention_delta)
    return db


async def join_replicas(config: Config, db: Database) -> Membership:
    """This replica as a member of the evaluating ones (refused on another partition count)."""
    membership = Membership(db.db["members"], db.checkpoints, new_owner_id(),
                            count=config.evaluator_partitions, lease_seconds=config.lease_seconds)
    await membership.join()
    return membership


def delivery_bridge(config: Config, db: Database, uri: str) -> DeliveryBridge:
    return DeliveryBridge(config, db, uri, delivery_settings(config))


def build_evaluators(config: Config, *, db: Database, rules: RulesStore, delivery: DeliveryBridge,
                     metrics: Metrics, clock: Clock, membership: Membership | None,
                     events_stored: Callable[[], None]) -> list[Evaluator]:
    """One evaluator per partition (`TOCSIN_EVALUATOR_PARTITIONS`), each with its own lease
    and outbox."""
    settings = EvaluatorSettings.from_config(config)
    evaluators = []
    for partition in partitions(config.evaluator_partitions):
        evaluators.append(Evaluator(
            db=db, rules=rules, metrics=metrics, clock=clock, partition=partition, settings=settings,
            outbox=Outbox(db.unsynced(), delivery, metrics, public_url=config.base_url),
            lease=Lease(db.checkpoints, config.lease_seconds, partition=partition.lease_id,
                        owner=membership.id if membership else None, snapshots=db.snapshots),
            assigned=membership.wants if membership else (lambda index: True),
            events_stored=events_stored))
    return evaluators
