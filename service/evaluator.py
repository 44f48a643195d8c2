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

Time: every reading of time (engine time, timers, lease, intervals, the hole grace) and
the wait between rounds go through the injected clock (service/clock.py): the wall clock
in the service, a `ManualClock` in tests, which step rounds (`step()`) or wait until what
is stored has been evaluated (`join()`) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine import Engine
from engine.engine import RELOADED_BY
from engine.events import from_ms
from engine.model import Silence, rfc3339
from service import monitor_errors
from service.clock import Clock, WallClock
from service.config import Config
from service.db import Database
from service.lease import Lease
from service.metrics import Metrics
from service.outbox import Outbox
from service.partitions import Partition
from service.rules_store import ActiveRules
from service.seq_reader import SeqReader
from service.unstorable import is_storage_failure, scrub, unstorable

log = logging.getLogger("tocsin.evaluator")

CHECKPOINT_SECONDS = 1.0
SILENCE_REFRESH_SECONDS = 2.0


EVENT_BATCH = 500  # stored events read per round trip
HOLE_POLL_SECONDS = 0.02  # a hole in the sequence numbers is looked at again this soon


class RuleSource(Protocol):
    """Where the evaluator finds the rule set in force (service/rules_store.py's RulesStore)."""

    @property
    def active(self) -> ActiveRules: ...


@dataclass(frozen=True, slots=True)
class EvaluatorSettings:
    """The part of the service's `Config` the evaluator reads."""

    tick_seconds: float
    public_url: str
    event_alert_expiry: timedelta
    gap_grace_seconds: float
    gap_recheck_seconds: float

    @classmethod
    def from_config(cls, config: Config) -> EvaluatorSettings:
        return cls(tick_seconds=config.tick_seconds, public_url=config.base_url,
                   event_alert_expiry=config.event_alert_expiry_delta, gap_grace_seconds=config.gap_grace_seconds,
                   gap_recheck_seconds=config.gap_recheck_seconds)


def _everywhere(index: int) -> bool:
    return True


def _nobody() -> None:
    return None


class Evaluator:
    """One partition's evaluation loop over explicit collaborators.

    `assigned(index)` says whether the partition is this replica's now (the membership;
    always, by default); `events_stored()` is called after the evaluator stored events of
    its own (`monitor.error`), so that whoever follows stored events is woken.
    Tests drive it with `await step()` (one round) or, while `run()` loops, `await join()`
    (everything stored so far evaluated), and a `ManualClock` for its timers.
    """

    def __init__(self, *, db: Database, rules: RuleSource, outbox: Outbox, lease: Lease,
                 settings: EvaluatorSettings, metrics: Metrics, clock: Clock | None = None,
                 partition: Partition | None = None, assigned: Callable[[int], bool] = _everywhere,
                 events_stored: Callable[[], None] = _nobody) -> None:
        self.db = db
        self.rules = rules
        self.outbox = outbox
        self.lease = lease
        self.settings = settings
        self.metrics = metrics
        self.clock: Clock = clock or WallClock()
        self.partition = partition or Partition(0, 1)
        self.assigned = assigned
        self.events_stored = events_stored
        self.wake = asyncio.Event()
        self.silences_changed = False
        self.commands_changed = False
        self._commands_at = float("-inf")
        self.engine: Engine | None = None
        self.reader: SeqReader | None = None
        self.rules_version = -1
        self._last_checkpoint = float("-inf")
        self._checkpoint_cost = 0.0
        self._silences_at = float("-inf")
        self._dirty = False
        self._rounds_begun = 0
        self._rounds_ended = 0
        self._round_ended = asyncio.Condition()

    @property
    def owner(self) -> bool:
        return self.engine is not None

    async def run(self) -> None:
        """Rounds until cancelled, each after a wake-up or `tick_seconds` on the clock."""
        while True:
            self.wake.clear()
            self._rounds_begun += 1
            try:
                await self.step()
            except asyncio.CancelledError:
                # Cut mid-round (a shutdown): what this round evaluated may not all be
                # stored (its ledger entries, its alert events), so its resume point must
                # not be written: `release()` writes none without an engine, and the next
                # owner evaluates those events again from the last checkpoint (their alert
                # events and entries have deterministic ids: nothing is stored twice).
                self.engine = None
                raise
            except Exception:
                log.exception("evaluation step failed; rebuilding from the last checkpoint")
                self.engine = None
            finally:
                async with self._round_ended:
                    self._rounds_ended += 1
                    self._round_ended.notify_all()
            await self.clock.wait(self.wake, self._pause())

    def _pause(self) -> float:
        """How long the loop waits for a wake-up: the tick, or `HOLE_POLL_SECONDS` while
        the reader waits at a hole. Nothing wakes the loop when another process's insert
        fills one (a `tocsin worker`'s `notification.*` events): on the tick, this
        process's own events behind such a hole would wait up to a second. (Guarded by
        reading, not measured: in the logged storm and latency runs no round ended at
        such a hole.)"""
        if self.reader is not None and self.reader.blocked:
            return min(HOLE_POLL_SECONDS, self.settings.tick_seconds)
        return self.settings.tick_seconds

    async def join(self) -> None:
        """Wait until every event stored before the call is evaluated and the output of
        its rounds written (alerts, alert events, deliveries; the `alert.*` events they
        emit may still be being stored), as Dramatiq's `join()`: wakes the loop of `run()`
        and returns after a round that began after the call ended caught up with them,
        or ended with the partition not ours (nothing of ours to evaluate). A round that
        failed does not count: the next one rebuilds. Callers bound it (asyncio.timeout):
        a hole in the sequence numbers is waited out for the gap grace, on this clock."""
        stored = await self._stored_seq()
        while True:
            async with self._round_ended:
                wanted = self._rounds_begun + 1
                self.wake.set()
                await self._round_ended.wait_for(lambda: self._rounds_ended >= wanted)
            if not self.assigned(self.partition.index) or self.lease.held_until is None:
                return
            if self.engine is not None and self.reader is not None and self.reader.after >= stored:
                return

    async def _stored_seq(self) -> int:
        """The last sequence number given to a stored (or storing) event."""
        doc = await self.db.counters.find_one({"_id": "events"})
        return int(doc["n"]) if doc else 0

    async def step(self) -> None:
        """One round: lease, commands, silences, rules, the events stored since the last
        round, the timers due by the clock, results written, checkpoint when due. Does
        nothing while the partition is another replica's."""
        now = self.clock.now()
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
        out = self.engine.tick(self.clock.now())
        await self._persist(out)
        await self._checkpoint()

    async def _rebuild(self, now: datetime) -> None:
        checkpoint = await self.lease.read_checkpoint()
        ruleset = self.partition.ruleset(self.rules.active.ruleset)
        options = dict(public_url=self.settings.public_url, event_alert_expiry=self.settings.event_alert_expiry)
        snapshot = await self.lease.read_snapshot(checkpoint)
        if snapshot:
            self.engine = Engine.restore(ruleset, snapshot, now=checkpoint.get("at") or now, **options)
        else:
            self.engine = Engine(ruleset, now=now, **options)
        self.engine.drain_changes()  # restored alerts are already stored
        # The engine's quarantines are the truth now (a reload while nobody owned these
        # monitors may have released some); faults met again in replay are recorded anew.
        await monitor_errors.keep_only(self.db, [m.name for m in ruleset.monitors], self.engine.faults)
        self.rules_version = self.rules.active.version
        self.reader = SeqReader.from_checkpoint(self.db, checkpoint, grace_seconds=self.settings.gap_grace_seconds,
                                                recheck_seconds=self.settings.gap_recheck_seconds,
                                                clock=self.clock.time)
        self._silences_at = float("-inf")
        self._last_checkpoint = float("-inf")
        self._dirty = True
        log.info("evaluator owns %s (%d monitors; resuming after seq %s, %d skipped numbers watched)",
                 self.partition.lease_id, len(ruleset.monitors), self.reader.after, len(self.reader.skipped))

    async def _follow_rules(self, now: datetime) -> None:
        active = self.rules.active
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
            done = self.clock.now()
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
        ruleset = self.rules.active.ruleset
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
                             public_url=self.settings.public_url)
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
        self.events_stored()  # the `monitor.error` events are for monitors too
        self._dirty = True

    def _command_filter(self) -> dict[str, Any]:
        """This partition's unapplied commands: those for its monitors; the first partition
        also takes commands naming no monitor or one no longer in the set (nobody else will)."""
        if self.partition.count == 1:
            return {"applied": False}
        names = [m.name for m in self.rules.active.ruleset.monitors]
        mine = [n for n in names if self.partition.owns(n)]
        if self.partition.index != 0:
            return {"applied": False, "monitor": {"$in": mine}}
        return {"applied": False, "$or": [{"monitor": {"$in": mine}}, {"monitor": {"$nin": names}}]}

    async def _apply_commands(self) -> None:
        """Acknowledge / clear requests from any replica's API: looked for at once when
        this process's API took one, else once a tick (other replicas' commands)."""
        if not self.commands_changed and self.clock.monotonic() - self._commands_at < self.settings.tick_seconds:
            return
        self.commands_changed = False
        self._commands_at = self.clock.monotonic()
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
            await self.db.commands.update_one({"_id": cmd["_id"]},
                                              {"$set": {"applied": True, "applied_at": self.clock.now()}})

    async def _refresh_silences(self, now: datetime) -> None:
        if self.clock.monotonic() - self._silences_at < SILENCE_REFRESH_SECONDS and not self.silences_changed:
            return
        self.silences_changed = False
        self._silences_at = self.clock.monotonic()
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
        if not self._dirty or (not force and self.clock.monotonic() - self._last_checkpoint < interval):
            return
        assert self.reader is not None
        await self.outbox.flush()  # the resume point covers them: they must be stored first
        started = self.clock.monotonic()
        ok = await self.lease.write_checkpoint(
            {**self.reader.state(), "at": self.clock.now(), "rules_version": self.rules_version},
            self.engine.snapshot())
        self._last_checkpoint = self.clock.monotonic()
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
