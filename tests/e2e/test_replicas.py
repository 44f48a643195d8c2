"""Issue 11: three `tocsin serve` replicas share the evaluator partitions on one SecantusDB.

A replica with another partition count is refused. A replica joins (it gets its share from the live owners, who hand over cleanly), leaves
(SIGTERM: it hands everything over at once) and is killed -9 (its partitions move within
a lease period). Events with unique markers are posted to every replica throughout, and
each monitor sits in a known partition, so every partition changes hands with events
in flight. Nothing is lost or doubled (`Deployment.check`: every marker delivered, one
idempotency key per marker, one alert event, ledger entry and `notification.sent` per
event) and `GET /v1/cluster` shows the expected spread after each change.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from service.partitions import Partition
from tests.e2e.ledger_support import Deployment, failed_event
from tests.support.processes import ServiceProcess, child_env, new_marker, wait_for
from tests.support.servers import free_port

PARTITIONS = 6
LEASE_SECONDS = 2.0
MONITORS_PER_PARTITION = 2


def monitor_names() -> list[str]:
    """Two monitor names in each partition (by the partitions' own hash)."""
    names: dict[int, list[str]] = {i: [] for i in range(PARTITIONS)}
    for n in range(1000):
        name = f"m{n}"
        index = next(i for i in range(PARTITIONS) if Partition(i, PARTITIONS).owns(name))
        if len(names[index]) < MONITORS_PER_PARTITION:
            names[index].append(name)
    return [name for group in names.values() for name in group]


MONITORS = monitor_names()


def rules(receiver_url: str) -> str:
    """Each monitor fires on the `execution.failed` events of its own flow."""
    return f'webhook "hook" {{ url "{receiver_url}" timeout 1s }}\n' + "".join(
        f'monitor "{m}" when execution.failed where flow == "{m}" notify webhook "hook"\n' for m in MONITORS)


class Replicas:
    """The deployment, its replicas by name, and the markers posted so far."""

    def __init__(self, d: Deployment) -> None:
        self.d = d
        self.by_name = dict(zip("abc", d.services, strict=True))
        self.markers: list[str] = []

    def post(self, *names: str) -> None:
        """One event per monitor (so per partition) to each named replica, fresh markers."""
        for name in names:
            batch = []
            for monitor in MONITORS:
                marker = new_marker()
                batch.append({**failed_event(marker), "flow": monitor})
                self.markers.append(marker)
            self.d.post(batch, service=self.by_name[name])

    def cluster(self, via: ServiceProcess) -> dict:
        r = httpx.get(f"{via.url}/v1/cluster", timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    def spread(self, via: ServiceProcess) -> dict[str, list[int]]:
        """Each live replica (by name) -> the partitions it holds, as `GET /v1/cluster` says."""
        pids = {s.pid: name for name, s in self.by_name.items() if s.alive}
        return {pids.get(int(r["id"].split(":")[1]), r["id"]): r["partitions"]
                for r in self.cluster(via)["replicas"]}

    def wait_spread(self, live: str, timeout: float) -> dict[str, list[int]]:
        """Until exactly the `live` replicas hold every partition, each its fair share."""
        via = self.by_name[live[0]]
        share = -(-PARTITIONS // len(live))

        def balanced() -> bool:
            spread = self.spread(via)
            held = sorted(i for partitions in spread.values() for i in partitions)
            return (sorted(spread) == sorted(live) and held == list(range(PARTITIONS))
                    and all(len(p) <= share for p in spread.values()))

        wait_for(balanced, timeout=timeout, interval=0.1,
                 message=lambda: f"spread {self.spread(via)}, expected {live} with {share} each\n{self.d.explain()}")
        return self.spread(via)


@pytest.fixture
def replicas(tmp_path, secantus_process, recording_receiver) -> Iterator[Replicas]:
    env = {"TOCSIN_EVALUATOR_PARTITIONS": str(PARTITIONS), "TOCSIN_LEASE_SECONDS": str(LEASE_SECONDS)}
    d = Deployment(tmp_path, recording_receiver, db=secantus_process, replicas=3, env=env)
    (tmp_path / "rules" / "main.rules").write_text(rules(recording_receiver.url))  # before any replica reads it
    try:
        yield Replicas(d)
    finally:
        d.stop()


def test_three_replicas_join_leave_and_die_without_losing_or_doubling(replicas):
    r = replicas
    a, b, c = (r.by_name[n] for n in "abc")
    a.start()
    assert r.wait_spread("a", timeout=10) == {"a": list(range(PARTITIONS))}
    r.post("a")
    refused = subprocess.run(  # another count is refused while a replica with this one is live
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        cwd=r.d.tmp_path, env=child_env({**r.d.env, "TOCSIN_EVALUATOR_PARTITIONS": "3"}), capture_output=True,
        text=True, timeout=30)
    assert refused.returncode == 2
    assert (f"tocsin serve: TOCSIN_EVALUATOR_PARTITIONS=3, but the running replica(s) {r.cluster(a)['replicas'][0]['id']}"
            f" use {PARTITIONS}: every replica must use the same count") in refused.stderr + refused.stdout

    b.start()  # joins: a hands three partitions over while it evaluates
    r.post("a", "b")
    assert r.wait_spread("ab", timeout=10)["a"] == [0, 1, 2]  # a keeps its lowest, b takes the rest

    c.start()  # joins: a and b each give one
    r.post("c", "b")
    three = r.wait_spread("abc", timeout=10)
    assert three["a"] == [0, 1] and three["b"] == [3, 4]  # nothing moved between a and b

    r.post("a", "b", "c")
    assert b.terminate(timeout=15) == 0  # leaves: hands its partitions over on the way out
    r.post("a", "c")
    two = r.wait_spread("ac", timeout=10)
    assert set(three["a"]) < set(two["a"]) and set(three["c"]) < set(two["c"])  # only b's two moved

    r.post("c", "a")
    c.kill9()  # dies: its partitions are a's within a lease period (plus a round)
    killed = time.monotonic()
    r.post("a")
    r.wait_spread("a", timeout=LEASE_SECONDS + 3)
    assert time.monotonic() - killed < LEASE_SECONDS + 3

    r.post("a")
    r.d.check(r.markers)  # every marker delivered once per key, one alert event/entry/sent each
    assert len(r.markers) == len(MONITORS) * 14  # 14 batches, one event per monitor each
