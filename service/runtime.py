"""What one service process runs besides the routes: database, rules, evaluator, delivery.

`Runtime.start()` connects (starting the embedded database when no URI is set), creates
indexes, adopts the stored rule set, loads the rules directory, and starts the
background tasks: the directory watcher, the rules follower, the evaluator (when this
process has one: it joins the evaluating replicas first, service/membership.py, and
heartbeats) and delivery. `stop()` undoes all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from datetime import datetime, timezone
from typing import Any

from service.clock import Clock, WallClock
from service.config import Config
from service.db import Database
from service.embedded import EmbeddedDatabase
from service.membership import Membership
from service.metrics import Metrics
from service.rules_store import RulesStore

log = logging.getLogger("tocsin.service")


STOP_STEP_SECONDS = 20.0


async def _bounded(step: Awaitable[Any], what: str) -> None:
    try:
        await asyncio.wait_for(step, STOP_STEP_SECONDS)
    except Exception as exc:  # TimeoutError included: log it and go on stopping
        log.warning("shutdown: %s failed (%s: %s)", what, type(exc).__name__, exc)


class _WakeAll:
    """`runtime.wake.set()` wakes every evaluator of this process (one per partition)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def set(self) -> None:
        for evaluator in self.runtime.evaluators:
            evaluator.wake.set()


class Runtime:
    def __init__(self, config: Config, metrics: Metrics, clock: Clock | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.clock: Clock = clock or WallClock()  # the evaluators' (tests pass a ManualClock)
        self.embedded: EmbeddedDatabase | None = None
        self.db: Database = None  # type: ignore[assignment]  # set by start()
        self.rules: RulesStore = None  # type: ignore[assignment]
        self.evaluators: list[Any] = []  # one per partition (TOCSIN_EVALUATOR_PARTITIONS)
        self.membership: Membership | None = None  # this replica among the evaluating ones
        self.delivery: Any = None
        self.tasks: list[asyncio.Task] = []
        self.wake = _WakeAll(self)
        self.rules_wake = asyncio.Event()
        self.startup_reload: Any = None

    async def start(self) -> None:
        uri = self.config.mongodb_uri
        if not uri:
            self.embedded = EmbeddedDatabase(self.config.data_dir)
            uri = await asyncio.to_thread(self.embedded.start)
        self.db = Database.connect(uri, self.config.mongodb_database)
        await self.db.ensure_indexes(self.config.retention_delta)
        if self.config.evaluator:
            await self._join()
        self.rules = RulesStore(self.db, self.config.rules_dir)
        await self.rules.refresh()
        self.startup_reload = await self.rules.reload_directory()
        self.metrics.rules_version.set(self.rules.active.version)
        from service.delivery_bridge import DeliveryBridge

        self.delivery = DeliveryBridge(self.config, self.db, uri)
        await self.delivery.start()
        self._spawn(self._follow_rules(), "rules-follower")
        if self.config.watch_rules and self.config.rules_dir:
            from service.watcher import watch_rules

            self._spawn(watch_rules(self), "rules-watcher")
        if self.config.evaluator:
            from service.evaluator import Evaluator, EvaluatorSettings
            from service.lease import Lease
            from service.outbox import Outbox
            from service.partitions import partitions

            membership = self.membership
            for partition in partitions(self.config.evaluator_partitions):
                evaluator = Evaluator(
                    db=self.db, rules=self.rules, metrics=self.metrics, clock=self.clock, partition=partition,
                    settings=EvaluatorSettings.from_config(self.config),
                    outbox=Outbox(self.db.unsynced(), self.delivery, self.metrics, public_url=self.config.base_url),
                    lease=Lease(self.db.checkpoints, self.config.lease_seconds, partition=partition.lease_id,
                                owner=membership.id if membership else None, snapshots=self.db.snapshots),
                    assigned=membership.wants if membership else (lambda index: True),
                    events_stored=self.notify_events)
                self.evaluators.append(evaluator)
                self._spawn(evaluator.run(), f"evaluator {partition.lease_id}")
            self._spawn(self._heartbeat(), "membership")

    async def _join(self) -> None:
        """Become a member of the evaluating replicas (refused on another partition count)."""
        from service.lease import new_owner_id

        self.membership = Membership(self.db.db["members"], self.db.checkpoints, new_owner_id(),
                                     count=self.config.evaluator_partitions,
                                     lease_seconds=self.config.lease_seconds)
        await self.membership.join()

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
    def evaluator(self) -> Any:
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

    def _spawn(self, coro, name: str) -> None:
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
        if self.db is not None:
            await _bounded(self.db.close(), "closing the database client")
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

    def compile_check(self, ruleset: Any) -> Any:
        """A diagnostic if the engine cannot compile `ruleset`, else None."""
        try:
            from engine import Engine
        except ImportError:
            return None
        try:
            Engine(ruleset, now=datetime.now(timezone.utc))
        except Exception as exc:  # the engine refusing a checked set is a bug, but say so
            from dsl.ast import Span
            from dsl.diagnostics import error

            return error(Span("<ruleset>", 1, 1, 1, 1), "E403", f"does not compile: {exc}")
        return None
