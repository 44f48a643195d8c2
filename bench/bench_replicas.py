"""Evaluation throughput with 1 and with 2 `tocsin serve` replicas (a benchmark, not a test).

    .venv/bin/python bench/bench_replicas.py [--events 20000] [--monitors 200] [--partitions 4] [--runs 1]

For each replica count: a fresh SecantusDB in its own process; the replicas started
and waited for until `GET /v1/cluster` shows the partitions spread over all of them;
the replicas frozen (SIGSTOP, with a lease long enough to keep everything) while
`--events` `execution.failed` events are stored (the service's own `store_events`, in
batches of 1,000, from this process: storing competes for the same cores, so it is
kept out of the measurement); then thawed, and the clock runs until every partition
has fed every event to its engine (`tocsin_events_evaluated` summed over the replicas =
events x partitions; each partition reads every stored event and matches only its
own monitors). Printed: events/s evaluated, and the CPU seconds of the database and
of each replica over that time (`/proc`).

The monitors are metric monitors (`count(...) > 1000000 over 5m by instance.id where
flow == ...`) that never fire, so the figure is evaluation, not delivery. What two
replicas can gain is bounded by the machine: with two cores, the database and the
replicas share them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.model import rfc3339  # noqa: E402
from service.db import Database  # noqa: E402
from service.event_store import store_events  # noqa: E402
from tests.support.processes import SecantusProcess, ServiceProcess, wait_for  # noqa: E402

BATCH = 1000


def rules(monitors: int) -> str:
    return "".join(f'monitor "m{i}" when count(execution.failed) > 1000000 over 5m by instance.id '
                   f'where flow == "f{i}" notify email "ops@example.com"\n' for i in range(monitors))


def events(count: int, monitors: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    base = datetime.now(timezone.utc) - timedelta(minutes=1)
    return [{"id": f"e{i}", "type": "execution.failed", "time": rfc3339(base + timedelta(milliseconds=2 * i)),
             "flow": f"f{rng.randrange(monitors)}", "instance": {"id": f"i{rng.randrange(500)}"}}
            for i in range(count)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its reaped children (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def evaluated(services: list[ServiceProcess]) -> float:
    total = 0.0
    for s in services:
        for line in httpx.get(f"{s.url}/metrics", timeout=5).text.splitlines():
            if line.startswith("tocsin_events_evaluated_total "):
                total += float(line.split()[1])
    return total


def balanced(service: ServiceProcess, replicas: int, partitions: int) -> bool:
    cluster = httpx.get(f"{service.url}/v1/cluster", timeout=5).json()
    held = sorted(i for r in cluster["replicas"] for i in r["partitions"])
    return len(cluster["replicas"]) == replicas and held == list(range(partitions)) and all(
        len(r["partitions"]) <= -(-partitions // replicas) for r in cluster["replicas"])


async def store_all(uri: str, database: str, batch: list[dict]) -> float:
    db = Database.connect(uri, database)
    started = time.monotonic()
    try:
        for i in range(0, len(batch), BATCH):
            await store_events(db, batch[i:i + BATCH])
    finally:
        await db.close()
    return time.monotonic() - started


def run(replicas: int, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    (workdir / "rules").mkdir(parents=True, exist_ok=True)
    (workdir / "rules" / "main.rules").write_text(rules(args.monitors))
    with SecantusProcess(workdir / f"db{replicas}", log_dir=workdir) as db:
        # A long lease: the replicas are frozen while the events are stored, and must
        # neither lose their partitions nor their membership meanwhile.
        env = {"TOCSIN_MONGODB_URI": db.uri, "TOCSIN_MONGODB_DATABASE": f"bench{replicas}",
               "TOCSIN_EVALUATOR_PARTITIONS": str(args.partitions), "TOCSIN_LEASE_SECONDS": "60",
               "TOCSIN_TICK_SECONDS": "0.2"}
        services = [ServiceProcess(workdir, env, log_dir=workdir) for _ in range(replicas)]
        try:
            for s in services:
                s.start()
            wait_for(lambda: balanced(services[0], replicas, args.partitions), timeout=30,
                     message="the partitions were not spread")
            for s in services:
                s.freeze()
            store_time = asyncio.run(store_all(db.uri, env["TOCSIN_MONGODB_DATABASE"],
                                               events(args.events, args.monitors)))
            cpu_before = [cpu_seconds(db.pid)] + [cpu_seconds(s.pid) for s in services]
            started = time.monotonic()
            for s in services:
                s.thaw()
            target = args.events * args.partitions
            wait_for(lambda: evaluated(services) >= target, timeout=900, interval=0.1,
                     message=lambda: f"evaluated {evaluated(services)} of {target}")
            elapsed = time.monotonic() - started
            cpu_after = [cpu_seconds(db.pid)] + [cpu_seconds(s.pid) for s in services]
            spread = balanced(services[0], replicas, args.partitions)
        finally:
            for s in services:
                s.stop()
    cpu = [b - a for a, b in zip(cpu_before, cpu_after, strict=True)]
    return {"events/s": args.events / elapsed, "seconds": elapsed, "store seconds": store_time,
            "db cpu": cpu[0], "replica cpu": sum(cpu[1:]), "per replica": cpu[1:], "spread": spread}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.events} events, {args.monitors} metric monitors, {args.partitions} partitions, "
          f"{os.cpu_count()} CPUs; SecantusDB in its own process")
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        for replicas in (1, 2):
            for n in range(args.runs):
                r = run(replicas, args, Path(tmp) / f"r{replicas}-{n}")
                per = ", ".join(f"{c:.1f}" for c in r["per replica"])
                print(f"{replicas} replica(s): {r['events/s']:8.0f} events/s evaluated ({r['seconds']:.1f} s; "
                      f"stored beforehand in {r['store seconds']:.1f} s); CPU s: database {r['db cpu']:.1f}, "
                      f"replicas {r['replica cpu']:.1f} ({per}); spread at the end: {r['spread']}", flush=True)


if __name__ == "__main__":
    main()
