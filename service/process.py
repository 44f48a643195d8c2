"""One service process's parts beside its routes, started and stopped together.

`ServiceProcess.start()` opens the database (starting the embedded one when no URI is
set), joins the evaluating replicas (service/membership.py) when this process evaluates,
adopts the stored rule set, loads the rules directory, and starts the background tasks:
the directory watcher, the rules follower, delivery, the evaluators (one per partition)
and the membership heartbeat. `stop()` undoes all of it. What each part is built from is
service/composition.py's; this class owns their lifetime and passes the routes' signals
on (events stored, rules, silences or commands changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from service.clock import Clock, WallClock
from service.composition import build_evaluators, delivery_bridge, join_replicas, open_database, open_embedded
from service.config import Config
from service.db import Database
from service.delivery_bridge import DeliveryBridge
from service.embedded import EmbeddedDatabase
from service.evaluator import Evaluator
from service.membership import Membership
from service.metrics import Metrics
from service.rules_store import Outcome, RulesStore
from service.watcher import watch_rules

log = logging.getLogger("tocsin.service")


STOP_STEP_SECONDS = 20.0


async def _bounded(step: Coroutine[Any, Any, object], what: str) -> None:
    try:
        await asyncio.wait_for(step, STOP_STEP_SECONDS)
    except Exception as exc:  # TimeoutError included: log it and go on stopping
        log.warning("shutdown: %s failed (%s: %s)", what, type(exc).__name__, exc)


class _WakeAll:
    """`process.wake.set()` wakes every evaluator of this process (one per partition)."""

    def __init__(self, evaluators: list[Evaluator]) -> None:
        self.evaluators = evaluators

    def set(self) -> None:
        for evaluator in self.evaluators:
            evaluator.wake.set()


class ServiceProcess:
    """The database, rules, delivery and evaluators of one `tocsin serve` process."""

    def __init__(self, config: Config, metrics: Metrics, clock: Clock | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.clock: Clock = clock or WallClock()  # the evaluators' (tests pass a ManualClock)
        self.embedded: EmbeddedDatabase | None = None
        self._db: Database | None = None
        self._rules: RulesStore | None = None
        self.evaluators: list[Evaluator] = []  # one per partition (TOCSIN_EVALUATOR_PARTITIONS)
        self.membership: Membership | None = None  # this replica among the evaluating ones
        self.delivery: DeliveryBridge | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.wake = _WakeAll(self.evaluators)
        self.rules_wake = asyncio.Event()
        self.startup_reload: Outcome | None = None  # of the rules directory at start

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the service process has not started")
        return self._db

    @property
    def rules(self) -> RulesStore:
        if self._rules is None:
            raise RuntimeError("the service process has not started")
        return self._rules

    async def start(self) -> None:
        uri = self.config.mongodb_uri
        if not uri:
            self.embedded, uri = await open_embedded(self.config)
        self._db = db = await open_database(self.config, uri)
        if self.config.evaluator:
            self.membership = await join_replicas(self.config, db)
        self._rules = rules = RulesStore(db, self.config.rules_dir)
        await rules.refresh()
        self.startup_reload = await rules.reload_directory()
        self.metrics.rules_version.set(rules.active.version)
        self.delivery = delivery = delivery_bridge(self.config, db, uri)
        await delivery.start()
        self._spawn(self._follow_rules(), "rules-follower")
        if self.config.watch_rules and self.config.rules_dir:
            self._spawn(watch_rules(self.config.rules_dir, rules, self.rules_changed), "rules-watcher")
        if self.config.evaluator:
            self.evaluators[:] = build_evaluators(
                self.config, db=db, rules=rules, delivery=delivery, metrics=self.metrics, clock=self.clock,
                membership=self.membership, events_stored=self.notify_events)
            for evaluator in self.evaluators:
                self._spawn(evaluator.run(), f"evaluator {evaluator.partition.lease_id}")
            self._spawn(self._heartbeat(), "membership")

    async def _heartbeat(self) -> None:
        """Heartbeat and re-assign a few times per lease period; wake the evaluators when
        this replica's share changed (to take or hand over partitions now)."""
        assert self.membership is not None
        interval = min(self.config.tick_seconds, self.config.lease_seconds / 3)
        while True:
            try:
                if await self.membership.heartbeat():
                    self.wake.set()
            except Exception as exc:  # the database away: the leases say what is safe
                log.warning("membership heartbeat failed (%s: %s); retrying", type(exc).__name__, exc)
            await asyncio.sleep(interval)

    @property
    def evaluator(self) -> Evaluator | None:
        """The first partition's evaluator (the only one by default), or None."""
        return self.evaluators[0] if self.evaluators else None

    @property
    def silences_changed(self) -> bool:
        return any(e.silences_changed for e in self.evaluators)

    @silences_changed.setter
    def silences_changed(self, value: bool) -> None:
        """Set by the silences API: every evaluator reloads silences on its next round."""
        for evaluator in self.evaluators:
            evaluator.silences_changed = value

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        # Cancel, and cancel again what still runs: Python 3.11's `asyncio.wait_for` (the
        # loops' sleeps) can swallow a cancellation that lands as its wait ends, and
        # awaiting such a task would hang the stop for ever.
        pending = set(self.tasks)
        for _ in range(10):
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=2.0)
            if not pending:
                break
        else:
            log.warning("shutdown: %d background task(s) would not stop", len(pending))
        self.tasks.clear()
        # Each step bounded: a stop must end even if a step waits on something that never
        # answers (the database or broker gone); what it leaves is rebuilt at the next start.
        # Leave first: the others re-assign at once and take each partition as it is released.
        if self.membership is not None:
            await _bounded(self.membership.leave(), "leaving the replicas")
        for evaluator in self.evaluators:
            await _bounded(evaluator.release(), f"releasing {evaluator.partition.lease_id}")
        if self.delivery is not None:
            await _bounded(self.delivery.stop(), "stopping delivery")
        if self._db is not None:
            await _bounded(self._db.close(), "closing the database client")
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)

    def commands_changed(self) -> None:
        """The API stored an acknowledge/clear command: every evaluator looks now."""
        for evaluator in self.evaluators:
            evaluator.commands_changed = True
        self.wake.set()

    def notify_events(self) -> None:
        """New events are stored: wake the evaluator now rather than at its next poll."""
        self.wake.set()

    def rules_changed(self) -> None:
        self.metrics.rules_version.set(self.rules.active.version)
        self.rules_wake.set()
        self.wake.set()

    async def _follow_rules(self) -> None:
        """Adopt versions written by other replicas (and by our own API calls)."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.rules_wake.wait(), timeout=1.0)
            self.rules_wake.clear()
            try:
                if await self.rules.refresh():
                    log.info("rule set version %s adopted", self.rules.active.version)
                    self.metrics.rules_version.set(self.rules.active.version)
                    self.wake.set()
            except Exception:
                log.exception("following the rule set failed; retrying")

    async def broker_ok(self) -> bool:
        return await self.delivery.ping() if self.delivery is not None else False
