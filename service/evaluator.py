"""The evaluator: stored events in commit order -> engine -> transitions and outbox.

One loop, woken by ingestion or every `TOCSIN_TICK_SECONDS`:
  lease -> (rebuild) -> commands -> silences -> rules -> events -> tick -> persist -> checkpoint

With `TOCSIN_EVALUATOR_PARTITIONS` above 1, a process runs one `Evaluator` per
partition (service/partitions.py), each with its own lease, checkpoint and engine over
its share of the monitors. Which partitions a replica evaluates is the membership's
assignment (service/membership.py): an evaluator takes its lease only while its
partition is assigned here, and hands it over (outbox flushed, checkpoint, release) as
soon as it is assigned to another replica.

Rebuild on start (or when the lease moves here): the engine is restored from the
checkpoint's snapshot and reading resumes at its `seq`; events after it are evaluated
again, and the alert events they regenerate have the same deterministic ids, so the
unique index drops them. Without a checkpoint every retained event is replayed.

Isolation: a monitor whose evaluation raises is quarantined by the engine
(engine/faults.py), one whose output cannot be stored by `_record` (service/unstorable.py);
either way the others go on, and the fault is recorded, announced as a `monitor.error`
event and counted (service/monitor_errors.py) before the next checkpoint. Only a failing
database (or a bug outside every monitor) fails a round: the loop logs it, waits a tick
and rebuilds, as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from engine.engine import RELOADED_BY
from engine.events import from_ms
from engine.model import rfc3339
from service import monitor_errors
from service.lease import Lease
from service.outbox import Outbox
from service.partitions import Partition
from service.seq_reader import SeqReader
from service.unstorable import is_storage_failure, scrub, unstorable

log = logging.getLogger("tocsin.evaluator")

CHECKPOINT_SECONDS = 1.0
SILENCE_REFRESH_SECONDS = 2.0


EVENT_BATCH = 500  # stored events read per round trip


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Evaluator:
    def __init__(self, runtime: Any, partition: Partition | None = None) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.config = runtime.config
        self.metrics = runtime.metrics
        self.partition = partition or Partition(0, 1)
        membership = getattr(runtime, "membership", None)
        self.lease = Lease(self.db.checkpoints, self.config.lease_seconds, partition=self.partition.lease_id,
                           owner=membership.id if membership else None, snapshots=self.db.snapshots)
        self.assigned: Callable[[int], bool] = membership.wants if membership else (lambda index: True)
        self.wake = asyncio.Event()
        self.silences_changed = False
        self.commands_changed = False
        self._commands_at = 0.0
        self.outbox = Outbox(self.db.unsynced(), runtime.delivery, self.metrics,
                             public_url=self.config.base_url)
        self.engine: Any = None
        self.reader: SeqReader | None = None
        self.rules_version = -1
        self._last_checkpoint = 0.0
        self._checkpoint_cost = 0.0
        self._silences_at = 0.0
        self._dirty = False

    @property
    def owner(self) -> bool:
        return self.engine is not None

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("evaluation step failed; rebuilding from the last checkpoint")
                self.engine = None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.config.tick_seconds)
            self.wake.clear()

    async def step(self) -> None:
        """One round; does nothing while the partition is another replica's."""
        now = utcnow()
        if not self.assigned(self.partition.index):
            if self.lease.held_until is not None:
                await self.hand_over()
            return
        if self.lease.needs_renewal(now) and not await self.lease.acquire(now):
            self.engine = None  # someone else owns the monitors; rebuild if we get them back
            return
        if self.engine is None:
            await self._rebuild(now)
        await self._apply_commands()
        await self._refresh_silences(now)
        await self._follow_rules(now)
        await self._evaluate_events()
        out = self.engine.tick(utcnow())
        await self._persist(out)
        await self._checkpoint()

    async def _rebuild(self, now: datetime) -> None:
        from engine import Engine

        checkpoint = await self.lease.read_checkpoint()
        ruleset = self.partition.ruleset(self.runtime.rules.active.ruleset)
        options = dict(public_url=self.config.base_url, event_alert_expiry=self.config.event_alert_expiry_delta)
        snapshot = await self.lease.read_snapshot(checkpoint)
        if snapshot:
            self.engine = Engine.restore(ruleset, snapshot, now=checkpoint.get("at") or now, **options)
        else:
            self.engine = Engine(ruleset, now=now, **options)
        self.engine.drain_changes()  # restored alerts are already stored
        # The engine's quarantines are the truth now (a reload while nobody owned these
        # monitors may have released some); faults met again in replay are recorded anew.
        await monitor_errors.keep_only(self.db, [m.name for m in ruleset.monitors], self.engine.faults)
        self.rules_version = self.runtime.rules.active.version
        self.reader = SeqReader.from_checkpoint(self.db, checkpoint, grace_seconds=self.config.gap_grace_seconds,
                                                recheck_seconds=self.config.gap_recheck_seconds)
        self._silences_at = 0.0
        self._last_checkpoint = 0.0
        self._dirty = True
        log.info("evaluator owns %s (%d monitors; resuming after seq %s, %d skipped numbers watched)",
                 self.partition.lease_id, len(ruleset.monitors), self.reader.after, len(self.reader.skipped))

    async def _follow_rules(self, now: datetime) -> None:
        active = self.runtime.rules.active
        if active.version != self.rules_version:
            quarantined = set(self.engine.faults)
            out = self.engine.reload(self.partition.ruleset(active.ruleset), now=now)
            self.rules_version = active.version
            self._dirty = True
            await monitor_errors.release(self.db, quarantined - set(self.engine.faults))
            await self._persist(out or [])

    async def _evaluate_events(self) -> None:
        assert self.reader is not None
        while True:
            docs = await self.reader.next_batch(limit=EVENT_BATCH)
            if not docs:
                return
            out = []
            for doc in docs:
                out.extend(self.engine.process(doc["event"]))
            await self._persist(out)
            done = utcnow()
            for doc in docs:
                self.metrics.evaluation_latency.observe(max(0.0, (done - doc["stored_at"]).total_seconds()))
            self.metrics.events_evaluated.inc(len(docs))
            self._dirty = True
            if len(docs) < EVENT_BATCH:
                return  # caught up: no extra empty read (each costs a round trip)

    async def _persist(self, alert_events: list) -> None:
        changed = self.engine.drain_changes()
        if changed or alert_events:
            await self._record(alert_events, changed)
            self._dirty = True
        await self._report_faults()

    async def _record(self, alert_events: list, changed: list) -> None:
        """Write a round; a value that cannot be stored quarantines the monitors that made
        it and the rest is written (service/unstorable.py)."""
        ruleset = self.runtime.rules.active.ruleset
        try:
            await self.outbox.record(alert_events, ruleset, changed)
            return
        except Exception as exc:
            if is_storage_failure(exc):
                raise
            closed = [a for a in changed if a.resolved_by == RELOADED_BY]
            for alert in closed:
                scrub(alert)  # a released monitor's remains: no fault of the new text
            bad = unstorable(alert_events, [a for a in changed if a.resolved_by != RELOADED_BY], ruleset,
                             public_url=self.config.base_url)
            if not bad and not closed:
                raise
        for monitor, (error, event) in bad.items():
            self.engine.quarantine(monitor, error, stage="store", event=event)
        await self.outbox.record([ae for ae in alert_events if ae.monitor not in bad], ruleset,
                                 [a for a in changed if a.monitor not in bad])

    async def _report_faults(self) -> None:
        """Record, announce, count and log the monitors quarantined since the last call."""
        faults = self.engine.drain_faults()
        if not faults:
            return
        announced = []
        for fault in faults:
            cm = self.engine.monitors.get(fault.monitor)
            self.metrics.monitor_errors.labels(fault.monitor).inc()
            log.error("monitor %r quarantined, the others go on (%s at %s, event %s): %s%s", fault.monitor,
                      fault.stage, rfc3339(from_ms(fault.at_ms)), fault.event_id, fault.error,
                      f"\n{fault.trace}" if fault.trace else "")
            event = monitor_errors.error_event(fault, file=cm.file if cm else None, line=cm.line if cm else None)
            announced.append((fault, event))
        await monitor_errors.record(self.db, announced)
        self.runtime.notify_events()  # the `monitor.error` events are for monitors too
        self._dirty = True

    def _command_filter(self) -> dict[str, Any]:
        """This partition's unapplied commands: those for its monitors; the first partition
        also takes commands naming no monitor or one no longer in the set (nobody else will)."""
        if self.partition.count == 1:
            return {"applied": False}
        names = [m.name for m in self.runtime.rules.active.ruleset.monitors]
        mine = [n for n in names if self.partition.owns(n)]
        if self.partition.index != 0:
            return {"applied": False, "monitor": {"$in": mine}}
        return {"applied": False, "$or": [{"monitor": {"$in": mine}}, {"monitor": {"$nin": names}}]}

    async def _apply_commands(self) -> None:
        """Acknowledge / clear requests from any replica's API: looked for at once when
        this process's API took one, else once a tick (other replicas' commands)."""
        if not self.commands_changed and time.monotonic() - self._commands_at < self.config.tick_seconds:
            return
        self.commands_changed = False
        self._commands_at = time.monotonic()
        async for cmd in self.db.commands.find(self._command_filter()).sort("at", 1):
            at = cmd["at"]
            if cmd["action"] == "acknowledge":
                alert = self.engine.acknowledge(cmd["alert_id"], by=cmd.get("by"), at=at, comment=cmd.get("comment"))
                out: list = []
                if alert is not None:
                    await self.outbox.emit_acknowledged(alert.to_dict(), at)
            else:
                out = self.engine.clear(cmd["alert_id"], by=cmd.get("by"), at=at, comment=cmd.get("comment"))
            await self._persist(out)
            await self.db.commands.update_one({"_id": cmd["_id"]}, {"$set": {"applied": True, "applied_at": utcnow()}})

    async def _refresh_silences(self, now: datetime) -> None:
        if time.monotonic() - self._silences_at < SILENCE_REFRESH_SECONDS and not self.silences_changed:
            return
        from engine.model import Silence

        self.silences_changed = False
        self._silences_at = time.monotonic()
        docs = [d async for d in self.db.silences.find({"ends_at": {"$gt": now}})]
        self.engine.set_silences([
            Silence(id=d["_id"], matchers=d["matchers"], ends_at=d["ends_at"], starts_at=d.get("starts_at"),
                    comment=d.get("comment"), by=d.get("by"))
            for d in docs
        ])

    async def _checkpoint(self, force: bool = False) -> None:
        # At most once a second, and spending at most a tenth of the time on it: the
        # snapshot grows with open alerts (an alert storm leaves tens of thousands).
        interval = max(CHECKPOINT_SECONDS, 10 * self._checkpoint_cost)
        if not self._dirty or (not force and time.monotonic() - self._last_checkpoint < interval):
            return
        assert self.reader is not None
        await self.outbox.flush()  # the resume point covers them: they must be stored first
        started = time.monotonic()
        ok = await self.lease.write_checkpoint(
            {**self.reader.state(), "at": utcnow(), "rules_version": self.rules_version},
            self.engine.snapshot())
        self._last_checkpoint = time.monotonic()
        self._checkpoint_cost = self._last_checkpoint - started
        self._dirty = False
        if not ok:
            self.engine = None

    async def hand_over(self) -> None:
        """Assigned to another replica: store what is pending and the resume point, then
        release the lease, so the new owner rebuilds from here and repeats nothing."""
        if self.engine is not None:
            await self._checkpoint(force=True)  # flushes the outbox first
        await self.lease.release()
        self.engine = None
        self.reader = None
        log.info("evaluator hands %s over", self.partition.lease_id)

    async def release(self) -> None:
        """On shutdown: write the resume point and hand the lease over at once."""
        if self.engine is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint(force=True)
        await self.lease.release()
