"""Ingest throughput and latency of a real `tocsin serve` (a benchmark, not a test).

    .venv/bin/python bench/bench_ingest.py [--runs 3] [--clients 8] [--seconds 5]

Starts `tocsin serve` as a process with one `when execution.failed` monitor and prints,
as medians over `--runs` runs:
- accepted events/s and p50/p99 acknowledgement latency (POST -> 202) for batches of
  1 and of 100 events, `--clients` concurrent HTTP/1.1 connections;
- event-to-alert-event latency p50/p99: POST of an event that opens a new alert until
  `GET /v1/alerts` shows it (evaluator round + writes; polling adds up to 5 ms).
- the CPU split during the batch-100 phase: SecantusDB runs as its own process there
  (with the embedded settings), so CPU seconds of the database and of Tocsin are
  measured separately (`/proc`), also per accepted event (robust on a loaded machine);
- a short profile of `tocsin serve` in that phase when py-spy is installed (a dev
  tool, not a dependency): the share of busy samples per component.

Figures are bounded by SecantusDB (an embedded, Python MongoDB-compatible server), not
by MongoDB: they are not MongoDB's figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RULES = 'monitor "failures" when execution.failed notify email "ops@example.com"\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        if proc.poll() is not None:
            raise SystemExit(f"process exited with {proc.returncode}")
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


@contextlib.contextmanager
def serve(workdir: Path, env: dict[str, str]):
    port = free_port()
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}, **env,
            "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                            cwd=workdir, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/readyz", proc)
        yield proc, url
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            proc.kill()


@contextlib.contextmanager
def secantus_process(workdir: Path):
    port = free_port()
    # The embedded settings (service/embedded.py): standalone, fsync per commit.
    proc = subprocess.Popen([sys.executable, "-m", "secantus", "--port", str(port), "--storage-path",
                             str(workdir / "db"), "--log-level", "ERROR", "--standalone", "--sync-on-commit"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        yield proc, f"mongodb://127.0.0.1:{port}/?retryWrites=false"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)


IDLE_LEAVES = ("_run_server_forever", "Condition.wait", "recv_into", "socket.accept", "select", "sleep",
               "PeriodicExecutor._run", "_CtypesTimeoutManager.run", "WorkerThread.run", "_worker")
BUCKETS = (("service/", "tocsin service"), ("engine/", "tocsin engine"), ("pydantic", "pydantic"),
           ("pymongo/", "pymongo"), ("bson/", "bson"), ("sanic", "sanic"), ("asyncio", "asyncio"),
           ("uvloop", "asyncio"), ("json", "json"), ("dramatiq", "dramatiq"))


def py_spy() -> str | None:
    """py-spy next to the interpreter or on PATH (a dev tool, not a dependency)."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    spy = py_spy()
    if spy is None:
        return None
    return subprocess.Popen([spy, "record", "-p", str(pid), "-o", str(out), "-f", "raw", "-r", "200",
                             "-d", str(max(1, int(seconds))), "--threads"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_summary(raw: Path) -> dict[str, float]:
    """Share of busy samples per component (by the innermost frame's file)."""
    counts: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]
        if any(idle in leaf for idle in IDLE_LEAVES):
            continue
        bucket = next((name for key, name in BUCKETS if key in leaf), "other")
        counts[bucket] = counts.get(bucket, 0) + int(n)
    total = sum(counts.values()) or 1
    return {k: v / total for k, v in counts.items()}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ingest(url: str, batch: int, clients: int, seconds: float) -> dict[str, float]:
    """`clients` threads POST batches for `seconds`; events/s and ack latency (ms)."""
    latencies: list[float] = []
    accepted = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            i = 0
            while time.monotonic() < stop_at:
                body = [{"id": f"{uuid.uuid4().hex}", "type": "execution.completed", "flow": "Sync",
                         "instance": {"id": f"c{n}"}, "execution": {"id": f"x{n}-{i}-{j}", "duration": 1.5}}
                        for j in range(batch)]
                t0 = time.perf_counter()
                r = http.post("/v1/events", json=body if batch > 1 else body[0])
                elapsed = (time.perf_counter() - t0) * 1000
                r.raise_for_status()
                with lock:
                    latencies.append(elapsed)
                    accepted[0] += r.json()["accepted"]
                i += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {"events_s": accepted[0] / wall, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


def alert_latency(url: str, probes: int = 20) -> dict[str, float]:
    """POST one event that opens a new alert; time until the alert is listed."""
    samples = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for i in range(probes):
            instance = f"probe-{uuid.uuid4().hex[:8]}"
            t0 = time.perf_counter()
            http.post("/v1/events", json={"id": uuid.uuid4().hex, "type": "execution.failed",
                                          "instance": {"id": instance}}).raise_for_status()
            while True:
                items = http.get("/v1/alerts", params={"limit": 5}).json()["items"]
                if any(a["key"].get("instance") == instance for a in items):
                    break
                time.sleep(0.005)
            samples.append((time.perf_counter() - t0) * 1000)
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99)}


def one_run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        work = Path(tmp)
        (work / "rules").mkdir()
        (work / "rules" / "main.rules").write_text(RULES)
        out = {}
        with serve(work, {"TOCSIN_DATA_DIR": str(work / "data")}) as (_, url):
            out["batch1"] = ingest(url, 1, args.clients, args.seconds)
            out["batch100"] = ingest(url, 100, args.clients, args.seconds)
            out["alert"] = alert_latency(url)
        with secantus_process(work) as (db_proc, uri), serve(work, {"TOCSIN_MONGODB_URI": uri}) as (proc, url):
            spy = start_profile(proc.pid, args.seconds, work / "profile.txt")
            before = (cpu_seconds(proc.pid), cpu_seconds(db_proc.pid), time.monotonic())
            out["split"] = ingest(url, 100, args.clients, args.seconds)
            wall = time.monotonic() - before[2]
            out["split"]["tocsin_cpu"] = (cpu_seconds(proc.pid) - before[0]) / wall
            out["split"]["db_cpu"] = (cpu_seconds(db_proc.pid) - before[1]) / wall
            events = out["split"]["events_s"] * wall
            out["split"]["tocsin_ms"] = (cpu_seconds(proc.pid) - before[0]) * 1000 / events
            out["split"]["db_ms"] = (cpu_seconds(db_proc.pid) - before[1]) * 1000 / events
            if spy is not None:
                spy.wait(60)
                out["profile"] = profile_summary(work / "profile.txt")
        return out


def median_of(runs: list[dict], section: str, key: str) -> float:
    return statistics.median(r[section][key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    runs = [one_run(args) for _ in range(args.runs)]
    print(f"tocsin serve, embedded SecantusDB (figures bounded by SecantusDB, not MongoDB's); "
          f"median of {args.runs} runs, {args.clients} clients, {args.seconds:.0f} s per phase")
    for section, label in (("batch1", "batch of 1  "), ("batch100", "batch of 100")):
        print(f"  {label}: {median_of(runs, section, 'events_s'):9.0f} events/s   ack p50 "
              f"{median_of(runs, section, 'p50'):7.1f} ms   p99 {median_of(runs, section, 'p99'):7.1f} ms")
    print(f"  event -> alert event listed: p50 {median_of(runs, 'alert', 'p50'):.1f} ms   "
          f"p99 {median_of(runs, 'alert', 'p99'):.1f} ms")
    print(f"  batch of 100 with SecantusDB as its own process: {median_of(runs, 'split', 'events_s'):.0f} events/s; "
          f"CPU: SecantusDB {median_of(runs, 'split', 'db_cpu'):.2f} cores, "
          f"tocsin serve {median_of(runs, 'split', 'tocsin_cpu'):.2f} cores")
    print(f"    CPU per accepted event: SecantusDB {median_of(runs, 'split', 'db_ms'):.3f} ms, "
          f"tocsin serve {median_of(runs, 'split', 'tocsin_ms'):.3f} ms")
    profiles = [r["profile"] for r in runs if "profile" in r]
    if profiles:
        names = sorted({k for p in profiles for k in p}, key=lambda k: -statistics.median(p.get(k, 0) for p in profiles))
        shares = ", ".join(f"{k} {statistics.median(p.get(k, 0) for p in profiles):.0%}" for k in names)
        print(f"    tocsin serve busy samples (py-spy, innermost frame): {shares}")
    else:
        print("    (no profile: install py-spy to get one)")


if __name__ == "__main__":
    main()
