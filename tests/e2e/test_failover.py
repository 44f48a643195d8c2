"""Issue 8, scenario 8: two `tocsin serve` replicas on one database; the evaluator's lease
holder killed -9 mid-delivery. The other replica takes the lease over, evaluates what
was left, and its reconciler sends what the dead one had claimed: nothing lost, nothing
sent under two keys, one alert event per event."""

from __future__ import annotations

import contextlib
import os

import pytest

from tests.e2e.ledger_support import Deployment, open_broker
from tests.support.processes import ServiceProcess, wait_for


def lease_holder(d: Deployment) -> ServiceProcess | None:
    """The replica whose process owns `evaluator:all` (owner = host:pid:…)."""
    doc = d.ledger.quietly(lambda v: v.db.checkpoints.find_one({"_id": "evaluator:all"}))
    if not doc or not doc.get("owner"):
        return None
    pid = int(doc["owner"].split(":")[1])
    try:
        group = os.getpgid(pid)  # Sanic serves from a child of `tocsin serve`: same group
    except ProcessLookupError:
        return None
    return next((s for s in d.services if s.pid == group), None)


@pytest.mark.parametrize("broker_kind", ["in-process", "redis"])
def test_lease_holder_killed_the_other_replica_takes_over(tmp_path, secantus_process, recording_receiver,
                                                          broker_kind):
    """In-process: each replica's own workers send (entries born claimed by the writer).
    Redis: a shared `tocsin worker`, and both replicas' reconcilers waking the same entries."""
    receiver = recording_receiver
    receiver.slow(1.5)
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(open_broker("redis", tmp_path)) if broker_kind == "redis" else None
        # A 3 s channel timeout so the slow answers count as sent; the 4 s lease outlasts it.
        d = stack.enter_context(Deployment(tmp_path, receiver, db=secantus_process, broker=broker, replicas=2,
                                           timeout="3s"))
        kill_the_lease_holder(d)


def kill_the_lease_holder(d: Deployment) -> None:
    """Events to both replicas, sends in flight, the holder killed -9, more events: all of
    them sent, each once per key (`Deployment.check`), the survivor holding the lease."""
    receiver = d.receiver
    wait_for(lambda: lease_holder(d) is not None, timeout=20, message=d.explain)
    holder = lease_holder(d)
    survivor = next(s for s in d.services if s is not holder)
    markers = d.post_failures(4, service=holder) + d.post_failures(4, service=survivor)
    wait_for(lambda: receiver.count >= 3, timeout=20, message=d.explain)
    markers += d.post_failures(4, service=survivor)  # evaluated by the holder, or after it
    holder.kill9()
    receiver.ok()
    markers += d.post_failures(4, service=survivor)
    wait_for(lambda: lease_holder(d) is survivor, timeout=20, message=d.explain)
    d.check(markers)
