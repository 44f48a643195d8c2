"""Alert storm and event -> webhook latency of real processes (a benchmark, not a test).

    .venv/bin/python bench/bench_storm.py                      # embedded default, 12,000 events
    .venv/bin/python bench/bench_storm.py --runs 3 --json      # medians of 3 runs, plus JSON
    .venv/bin/python bench/bench_storm.py --mode redis --workers 2
    .venv/bin/python bench/bench_storm.py --mode rabbitmq      # needs RabbitMQ on 127.0.0.1:5672
    .venv/bin/python bench/bench_storm.py --events 2000 --latency-seconds 5 --deadline 60   # quick

What it measures (issue 8, "Figures"), everything on 127.0.0.1 with real processes:

- **Alert storm**: `--events` events (default 12,000) posted in batches of `--batch` (100)
  by `--clients` (8) threads, each with its own `httpx.Client` (HTTP/1.1 keep-alive), as
  fast as `POST /v1/events` accepts them. Every event has its own `instance`, so every
  event opens its own alert and asks for one webhook notification. Printed: accepted
  events/s (events / posting time), notifications/s during the posting and overall (first
  POST to last notification), time from the last POST's answer to the last notification,
  notifications delivered when `--deadline` seconds have passed after the last POST
  (partial delivery is reported as such, never waited out), duplicates (a repeated
  `Idempotency-Key`; a marker notified under two different keys), and every non-202
  answer by status. 429/502/503/504 answers and transport errors are retried with the same
  event ids (up to 5 tries, honouring `Retry-After`), and counted.
- **Event -> webhook latency**: after a short warm-up, one event every 1/`--rate` s
  (20/s) for `--latency-seconds` (20 s) from one client, each opening an alert; per event,
  the time from the start of its POST to the webhook's arrival at the receiver (matched by
  a unique marker in the event's `instance.id`, which the default webhook body carries in
  `event` and `key`). p50 / p99 / max. It runs before the storm, on the idle service.
- **Documents written per alert**: documents per collection of the service's database
  (`tocsin`) per alert, twice: after the warm-up and latency phases (alerts opened one at a
  time, all delivered), and for the storm (documents added during it / alerts it opened;
  flagged when delivery was incomplete at the deadline, since the writes that follow a
  delivery are then missing). With each, the database commands per alert from
  `serverStatus.opcounters` (SecantusDB counts commands, one per `insert_many` or bulk
  write, where mongod counts inserted documents: so these are round trips per alert).
  In `redis`/`rabbitmq` mode the bench starts the database and knows its URI; in
  `embedded` mode the database lives inside `tocsin serve` on an ephemeral port, which the
  bench looks up in /proc (best effort, read-only; if it cannot, it says so).
- **Memory per open alert**: VmRSS of the `tocsin serve` process (/proc/PID/status) before
  and after the storm, divided by the alerts opened in between. In embedded mode that
  process also holds the database and its cache, so this is an upper bound.
- CPU seconds of each process during the storm (posting + drain), and the bench's own
  CPU while posting, to show whether the client is the bottleneck.

Processes: a webhook receiver (asyncio, HTTP/1.1 keep-alive, answers 200 at once, notes
the arrival time and `Idempotency-Key` of every request) in a child process, so that its
CPU does not compete with the client threads' GIL; `tocsin serve`
(`python -m service.cli serve`) in a temporary directory holding `rules/storm.rules` with
`TOCSIN_RULES_DIR`/`TOCSIN_DATA_DIR` set and no other inherited `TOCSIN_*` variable.
`--mode`:
- `embedded` (default): what `make run` runs: embedded SecantusDB, in-process broker and
  workers.
- `redis`: a SecantusDB server process started as the embedded one is
  (service.embedded: standalone, `journal=true` so every write the service acknowledges
  waits for the journal's fsync, the index-catalogue repair, credentials the bench
  knows), `redis-server --save '' --appendonly no`,
  and `--workers` `tocsin worker --processes 1 --threads 16` processes (`--worker-threads`).
- `rabbitmq`: as `redis`, with `TOCSIN_BROKER_URL=amqp://guest:guest@127.0.0.1:5672/` and
  a unique `TOCSIN_DELIVERY_QUEUE` instead of Redis (deleted afterwards when pika is
  installed). Needs a service that reads these variables.

`--runs N` repeats everything with fresh processes and prints the median of each
figure; `--json` also prints the results as one JSON document (last line of stdout).
Every wait has a deadline, and every child process (in its own process group) is killed
on exit, failure or Ctrl-C.

The database is SecantusDB (a MongoDB-compatible server written in Python), which bounds
these figures: they are **not MongoDB's figures**. The machine's load matters too: note
it with the figures (the script prints the load average).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "tocsin"  # the service's default (TOCSIN_MONGODB_DATABASE is not passed on)
RULES = """\
# The alert-storm benchmark's rules (bench/bench_storm.py): every execution.failed
# event opens its own alert (one per instance) and notifies one webhook.
webhook "hook" {{
  url "http://127.0.0.1:{port}/hook"
}}

monitor "storm" when execution.failed notify webhook "hook"
"""
RETRY_STATUSES = {429, 502, 503, 504}
MAX_TRIES = 5


class RunFailed(Exception):
    """A run could not be completed (a process died, the pipeline delivered nothing, …)."""


# --- child processes ------------------------------------------------------------------

_children: list[subprocess.Popen] = []


try:  # loaded here, not between fork and exec (the bench has threads by then)
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (ImportError, OSError, AttributeError):  # pragma: no cover - not Linux
    _PRCTL = None


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it if the bench dies (Linux)."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def spawn(cmd: list[str], *, cwd: Path, env: dict[str, str] | None, log: Path,
          stdout_pipe: bool = False) -> subprocess.Popen:
    """Start a child in its own process group (so its own children go with it)."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE if stdout_pipe else out, stderr=out,
                                start_new_session=True, preexec_fn=_die_with_parent)
    proc.log_path = log  # type: ignore[attr-defined]
    _children.append(proc)
    return proc


def _killpg(proc: subprocess.Popen, sig: int) -> None:
    # The group id is the child's own pid (setsid); a pid stays reserved while its group lives.
    # A child started by someone else (the database of service.embedded) leads no group of
    # its own: it gets the signal itself, so the bench never removes its files under it.
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
    except PermissionError:
        pass


def stop(procs: list[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM the children's groups, SIGKILL them after `timeout`; leftovers of each group too."""
    for proc in procs:
        if proc.poll() is None:
            _killpg(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        _killpg(proc, signal.SIGKILL)  # still running, or grandchildren left by a dead leader
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
        with contextlib.suppress(ValueError):
            _children.remove(proc)


@atexit.register
def _kill_all() -> None:
    for proc in list(_children):
        _killpg(proc, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(5)
    _children.clear()


def tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join("    | " + line for line in text)


def check_alive(procs: dict[str, subprocess.Popen]) -> None:
    for name, proc in procs.items():
        if proc.poll() is not None:
            raise RunFailed(f"{name} exited with {proc.returncode}:\n{tail(getattr(proc, 'log_path', None))}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, procs: dict[str, subprocess.Popen], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        check_alive(procs)
        time.sleep(0.1)
    raise RunFailed(f"{what} did not listen on port {port} within {timeout:.0f} s")


# --- the webhook receiver (child process) ---------------------------------------------------

def receiver_main(prefix: str) -> None:
    """Answer 200 at once; note (arrival, Idempotency-Key, marker) of every request.

    Control: `GET /_count` -> distinct markers per phase and requests; `GET /_records` ->
    every record. Prints its port on stdout, exits when its parent goes away.
    """
    records: list[tuple[float, str, str]] = []
    phases: dict[str, set[str]] = {}
    pattern = re.compile(rb'"(' + re.escape(prefix.encode()) + rb'-([a-z])-\d+)"')
    parent = os.getppid()

    async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected
                    return bytes(body)
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        length = int(headers.get("content-length") or 0)
        return await reader.readexactly(length) if length else b""

    def control(path: str) -> bytes:
        if path.startswith("/_records"):
            return json.dumps(records).encode()
        counts = {k: len(v) for k, v in phases.items()}
        return json.dumps({"phases": counts, "requests": len(records)}).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.monotonic()
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                body = await read_body(reader, headers)
                parts = lines[0].split(" ")
                path = parts[1] if len(parts) > 1 else "/"
                if path.startswith("/_"):
                    out = control(path)
                else:
                    m = pattern.search(body)
                    marker = m.group(1).decode() if m else ""
                    if m:
                        phases.setdefault(m.group(2).decode(), set()).add(marker)
                    records.append((arrived, headers.get("idempotency-key", ""), marker))
                    out = b""
                close = headers.get("connection", "").lower() == "close"
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
                             % (len(out), b"connection: close\r\n" if close else b"", out))
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def watch_parent() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(1)
        os._exit(0)

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096, limit=1 << 20)
        print(server.sockets[0].getsockname()[1], flush=True)
        asyncio.get_running_loop().create_task(watch_parent())
        await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


class Receiver:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        import httpx

        self.proc, self.port = proc, port
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def counts(self) -> dict[str, int]:
        return self.http.get("/_count").json()["phases"]

    def records(self) -> list[tuple[float, str, str]]:
        return [tuple(r) for r in self.http.get("/_records").json()]

    def close(self) -> None:
        self.http.close()


def start_receiver(work: Path, prefix: str) -> Receiver:
    proc = spawn([sys.executable, str(Path(__file__).resolve()), "--receiver-child", prefix],
                 cwd=work, env=None, log=work / "receiver.log", stdout_pipe=True)
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline() if ready else b""
    if not line.strip().isdigit():
        raise RunFailed(f"the receiver did not start:\n{tail(work / 'receiver.log')}")
    return Receiver(proc, int(line))


# --- the service and its servers -----------------------------------------------------------

def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def start_secantus(work: Path) -> tuple[subprocess.Popen, str]:
    """The database of `--mode redis|rabbitmq` in a process of its own: SecantusDB started
    as `tocsin serve` starts its embedded one (service.embedded: durable, standalone, the
    same repair, credentials), so the two modes differ only in broker and workers."""
    from service.embedded import EmbeddedDatabase

    database = EmbeddedDatabase(str(work / "db"))
    uri = database.start()
    assert database.process is not None
    return database.process, uri


def start_redis(work: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server") or str(Path(sys.executable).parent / "redis-server")
    port = free_port()
    (work / "redis").mkdir()
    proc = spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--dir", str(work / "redis")], cwd=work, env=None, log=work / "redis.log")
    wait_port(port, {"redis-server": proc}, 20, "redis-server")
    return proc, f"redis://127.0.0.1:{port}/0"


def start_serve(work: Path, env: dict[str, str],
                procs: dict[str, subprocess.Popen]) -> tuple[subprocess.Popen, str, int]:
    import httpx

    port = free_port()
    proc = spawn([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                 cwd=work, env=env, log=work / "serve.log")
    procs["tocsin serve"] = proc
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url, port
        check_alive(procs)
        time.sleep(0.2)
    raise RunFailed(f"tocsin serve not ready within 90 s:\n{tail(work / 'serve.log')}")


def delete_rabbitmq_queue(name: str) -> None:
    try:
        import pika
    except ImportError:
        return
    with contextlib.suppress(Exception):
        params = pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F?socket_timeout=5")
        conn = pika.BlockingConnection(params)
        try:
            for queue in (name, f"{name}.DQ", f"{name}.XQ"):
                with contextlib.suppress(Exception):
                    ch = conn.channel()
                    ch.queue_delete(queue)
                    ch.close()
        finally:
            conn.close()


# --- /proc --------------------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    """VmRSS of a process and its live descendants (the embedded database's process)."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def process_tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(parents.get(p, ()))
    return tree


def cpu_seconds(pid: int, *, descendants: bool = True) -> float:
    """CPU (user + system) of a process and (by default) its live descendants."""
    total = 0.0
    for p in process_tree(pid) if descendants else [pid]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on (its socket inodes matched in /proc/net/tcp*)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


# --- the database --------------------------------------------------------------------------

class Db:
    """Read-only look at the service's database: document counts and opcounters."""

    def __init__(self, uri: str) -> None:
        from pymongo import MongoClient

        self.client = MongoClient(uri, directConnection=True, retryWrites=False,
                                  serverSelectionTimeoutMS=5000, socketTimeoutMS=60000)
        # A command that needs rights: the embedded database answers `ping` to anyone but
        # reads only with the service's credentials (generated at each start).
        self.client[DATABASE]["alerts"].count_documents({})

    def counts(self) -> dict[str, int]:
        db = self.client[DATABASE]
        return {name: db[name].count_documents({}) for name in sorted(db.list_collection_names())}

    def alerts(self) -> int:
        return self.client[DATABASE]["alerts"].count_documents({})

    def opcounters(self) -> dict[str, int] | None:
        with contextlib.suppress(Exception):
            ops = self.client.admin.command("serverStatus").get("opcounters")
            if isinstance(ops, dict):
                return {k: int(v) for k, v in ops.items()}
        return None

    def close(self) -> None:
        self.client.close()


def per_alert_ops(before: dict[str, int], after: dict[str, int], alerts: int) -> dict[str, float]:
    return {k: (after.get(k, 0) - before.get(k, 0)) / alerts
            for k in ("insert", "update", "delete", "query", "command")}


def metrics_of(url: str) -> dict[str, float]:
    import httpx

    out: dict[str, float] = {}
    with contextlib.suppress(Exception):
        for line in httpx.get(f"{url}/metrics", timeout=60).text.splitlines():
            if line.startswith("tocsin_") and " " in line:
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    out[name] = float(value)
    return out


# --- load ----------------------------------------------------------------------------------

def event(marker: str) -> dict[str, Any]:
    return {"id": marker, "type": "execution.failed", "flow": "Storm", "instance": {"id": marker, "name": marker}}


def post_with_retries(http, body: Any, statuses: Counter, lock: threading.Lock) -> bool:
    """POST until a final answer; True when it was a 202. Every answer is counted."""
    import httpx

    for attempt in range(MAX_TRIES):
        pause = 0.5
        try:
            r = http.post("/v1/events", json=body)
            key: str | int = r.status_code
        except httpx.HTTPError as exc:
            r, key = None, f"error {type(exc).__name__}"
        with lock:
            statuses[key] += 1
        if r is not None and r.status_code == 202:
            return True
        if r is not None and r.status_code not in RETRY_STATUSES:
            return False
        if r is not None:
            with contextlib.suppress(ValueError):
                pause = min(5.0, float(r.headers.get("retry-after", pause)))
        if attempt < MAX_TRIES - 1:
            time.sleep(pause)
    return False


def paced(url: str, prefix: str, phase: str, rate: float, seconds: float,
          statuses: Counter) -> tuple[dict[str, float], list[float]]:
    """One client, one event every 1/rate s: {marker: POST start}, ack latencies (ms)."""
    import httpx

    sent: dict[str, float] = {}
    acks: list[float] = []
    lock = threading.Lock()
    n = max(1, int(rate * seconds))
    with httpx.Client(base_url=url, timeout=30) as http:
        start = time.monotonic()
        for i in range(n):
            pause = start + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            marker = f"{prefix}-{phase}-{i}"
            t0 = time.monotonic()
            if post_with_retries(http, event(marker), statuses, lock):
                sent[marker] = t0
                acks.append((time.monotonic() - t0) * 1000)
    return sent, acks


def storm(url: str, prefix: str, args: argparse.Namespace, statuses: Counter) -> dict[str, Any]:
    """`clients` threads post all batches as fast as they are accepted."""
    import httpx

    batches = [[event(f"{prefix}-s-{i}") for i in range(start, min(start + args.batch, args.events))]
               for start in range(0, args.events, args.batch)]
    lock = threading.Lock()
    state = {"next": 0, "accepted": [], "last_answer": 0.0}
    stop_at = time.monotonic() + args.post_deadline

    def client(http: httpx.Client) -> None:
        with http:
            while time.monotonic() < stop_at:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= len(batches):
                    return
                ok = post_with_retries(http, batches[i], statuses, lock)
                with lock:
                    state["last_answer"] = max(state["last_answer"], time.monotonic())
                    if ok:
                        state["accepted"].extend(e["id"] for e in batches[i])

    # Clients are made before the clock starts (each builds an SSL context: ~20 ms of CPU).
    threads = [threading.Thread(target=client, args=(httpx.Client(base_url=url, timeout=60),), daemon=True)
               for _ in range(args.clients)]
    cpu0 = time.process_time()
    first = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, stop_at + 120 - time.monotonic()))  # a POST never outlives its 60 s timeout much
    last = state["last_answer"] or time.monotonic()
    return {"first_post": first, "last_answer": last, "accepted": set(state["accepted"]),
            "unsent_batches": max(0, len(batches) - state["next"]),
            "client_cores": (time.process_time() - cpu0) / max(1e-9, last - first)}


def wait_phase(receiver: Receiver, phase: str, expected: int, deadline: float,
               procs: dict[str, subprocess.Popen]) -> int:
    got = 0
    while True:
        got = receiver.counts().get(phase, 0)
        if got >= expected or time.monotonic() >= deadline:
            return got
        check_alive(procs)
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def log_problems(path: Path) -> dict[str, Any]:
    """Tracebacks and ERROR/CRITICAL lines in a child's log: a count and the first few."""
    if not path.exists():
        return {"count": 0, "first": []}
    lines = path.read_text(errors="replace").splitlines()
    bad = [l for l in lines if " ERROR " in l or " CRITICAL " in l or l.startswith("Traceback")]
    distinct: list[str] = []
    for line in bad:
        short = re.sub(r"^\S+ \S+ ", "", line)[:200]
        if short not in distinct:
            distinct.append(short)
    return {"count": len(bad), "first": distinct[:3]}


# --- one run -------------------------------------------------------------------------------

def one_run(args: argparse.Namespace, index: int) -> dict[str, Any]:
    prefix = f"stm{uuid.uuid4().hex[:8]}"
    tmp = tempfile.mkdtemp(prefix="tocsin-storm-")
    work = Path(tmp)
    procs: dict[str, subprocess.Popen] = {}
    receiver: Receiver | None = None
    db: Db | None = None
    queue = f"tocsin_bench_{uuid.uuid4().hex[:10]}"
    out: dict[str, Any] = {"run": index + 1, "mode": args.mode, "load_average": os.getloadavg()[0]}
    try:
        receiver = start_receiver(work, prefix)
        procs["receiver"] = receiver.proc
        (work / "rules").mkdir()
        (work / "rules" / "storm.rules").write_text(RULES.format(port=receiver.port))
        env = {**base_env(), "TOCSIN_RULES_DIR": str(work / "rules"), "TOCSIN_DATA_DIR": str(work / "data")}
        db_uri = None
        if args.mode in ("redis", "rabbitmq"):
            procs["SecantusDB"], db_uri = start_secantus(work)
            env["TOCSIN_MONGODB_URI"] = db_uri
        if args.mode == "redis":
            procs["redis-server"], env["TOCSIN_REDIS_URL"] = start_redis(work)
        if args.mode == "rabbitmq":
            env["TOCSIN_BROKER_URL"] = "amqp://guest:guest@127.0.0.1:5672/"
            env["TOCSIN_DELIVERY_QUEUE"] = queue
        serve, url, api_port = start_serve(work, env, procs)
        if args.mode != "embedded":
            for w in range(args.workers):
                procs[f"tocsin worker {w}"] = spawn(
                    [sys.executable, "-m", "service.cli", "worker", "--processes", "1",
                     "--threads", str(args.worker_threads)],
                    cwd=work, env=env, log=work / f"worker{w}.log")

        # The database: known URI, or the embedded one's port found in /proc.
        if db_uri is None:
            candidates = set().union(*(listening_ports(p) for p in process_tree(serve.pid))) - {api_port}
            if len(candidates) == 1:
                db_uri = f"mongodb://127.0.0.1:{candidates.pop()}/?retryWrites=false"
                out["db_access"] = "embedded SecantusDB reached on its ephemeral port (found in /proc)"
            else:
                out["db_access"] = f"embedded database not reachable (listening ports {sorted(candidates)})"
        else:
            out["db_access"] = "SecantusDB server process started by the bench"
        if db_uri is not None:
            try:
                db = Db(db_uri)
            except Exception as exc:
                out["db_access"] = (f"database not readable by the bench ({type(exc).__name__}: "
                                    f"{str(exc)[:80]}); the embedded one admits only the service "
                                    f"(run --mode redis for documents per alert)")

        # Warm-up: the pipeline must deliver before anything is measured.
        statuses: Counter = Counter()
        sent, _ = paced(url, prefix, "w", args.rate, args.warmup, statuses)
        got = wait_phase(receiver, "w", len(sent), time.monotonic() + args.warmup_deadline, procs)
        if got == 0:
            raise RunFailed(f"no warm-up notification arrived within {args.warmup_deadline:.0f} s "
                            f"({len(sent)} events accepted, answers {dict(statuses)})")
        out["warmup"] = {"sent": len(sent), "delivered": got}

        # Latency, on the idle service.
        alerts_idle0 = db.alerts() if db else None
        ops_idle0 = db.opcounters() if db else None
        sent, acks = paced(url, prefix, "l", args.rate, args.latency_seconds, statuses)
        got = wait_phase(receiver, "l", len(sent), time.monotonic() + args.latency_deadline, procs)
        time.sleep(args.settle)  # the writes that follow a send (outcome, notification.sent)
        first_arrival: dict[str, float] = {}
        for t, _, marker in receiver.records():
            if marker in sent and marker not in first_arrival:
                first_arrival[marker] = t
        lat = [(first_arrival[m] - t0) * 1000 for m, t0 in sent.items() if m in first_arrival]
        out["latency"] = {"events": len(sent), "delivered": len(lat), "missing": len(sent) - len(lat),
                          "p50_ms": percentile(lat, 50) if lat else None,
                          "p99_ms": percentile(lat, 99) if lat else None,
                          "max_ms": max(lat) if lat else None,
                          "ack_p50_ms": percentile(acks, 50) if acks else None,
                          "non_202": {str(k): v for k, v in statuses.items() if k != 202}}

        # Before the storm; documents and commands per alert of the (complete) idle phases.
        ops_before = db.opcounters() if db else None
        counts_before = db.counts() if db else None
        alerts_before = db.alerts() if db else None
        metrics_before = metrics_of(url)
        if counts_before is not None and alerts_before:
            out["documents_idle"] = {
                "alerts": alerts_before, "all_delivered": got >= len(sent),
                "per_alert": {k: v / alerts_before for k, v in counts_before.items()}}
            if ops_idle0 and ops_before and alerts_idle0 is not None and alerts_before > alerts_idle0:
                out["documents_idle"]["commands_per_alert"] = per_alert_ops(ops_idle0, ops_before,
                                                                            alerts_before - alerts_idle0)
        rss_before = rss_kb(serve.pid)
        cpu_procs = {name: p for name, p in procs.items() if name != "receiver"}
        cpu_before = {name: cpu_seconds(p.pid) for name, p in cpu_procs.items()}
        serve_own_before = cpu_seconds(serve.pid, descendants=False)  # without an embedded database

        # The storm.
        statuses = Counter()
        posted = storm(url, prefix, args, statuses)
        check_alive(procs)
        expected = posted["accepted"]
        deadline = posted["last_answer"] + args.deadline
        got = wait_phase(receiver, "s", len(expected), deadline, procs)
        complete = got >= len(expected)
        if complete and args.settle > 0:
            time.sleep(args.settle)  # late duplicates
        drained_at = time.monotonic()
        cpu_after = {name: cpu_seconds(p.pid) for name, p in cpu_procs.items() if p.poll() is None}
        serve_own_after = cpu_seconds(serve.pid, descendants=False)
        rss_after = rss_kb(serve.pid)

        records = receiver.records()
        storm_records = [r for r in records if r[2].startswith(f"{prefix}-s-")]
        first: dict[str, float] = {}
        keys_per_marker: dict[str, set[str]] = {}
        key_counts: Counter = Counter()
        for t, key, marker in storm_records:
            first.setdefault(marker, t)
            keys_per_marker.setdefault(marker, set()).add(key)
            key_counts[key] += 1
        delivered = [t for m, t in first.items() if m in expected]
        posting = posted["last_answer"] - posted["first_post"]
        last_notification = max(delivered) if delivered else None
        all_delivered = len(delivered) == len(expected) and bool(expected)
        out["storm"] = {
            "events": args.events, "accepted": len(expected), "unsent_batches": posted["unsent_batches"],
            "posting_s": posting,
            "accepted_events_s": len(expected) / posting if posting > 0 else None,
            "notifications_s_during_posting": sum(1 for t in delivered if t <= posted["last_answer"]) / posting
            if posting > 0 else None,
            "notifications_s_overall": len(delivered) / (last_notification - posted["first_post"])
            if last_notification else None,
            "complete": all_delivered,
            "last_post_to_last_notification_s": (last_notification - posted["last_answer"])
            if all_delivered else None,
            "delivered_at_deadline": len(delivered),
            "delivered_fraction": len(delivered) / len(expected) if expected else None,
            "requests": len(storm_records),
            "duplicate_key_requests": sum(n - 1 for n in key_counts.values() if n > 1),
            "markers_under_two_keys": sum(1 for keys in keys_per_marker.values() if len(keys) > 1),
            "unexpected_markers": sum(1 for m in first if m not in expected),
            "non_202": {str(k): v for k, v in statuses.items() if k != 202},
            "answers": {str(k): v for k, v in statuses.items()},
            "client_cores": posted["client_cores"],
        }
        wall = drained_at - posted["first_post"]
        out["cpu_s"] = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
        out["cpu_wall_s"] = wall
        if args.mode == "embedded" and "tocsin serve" in out["cpu_s"]:
            own = serve_own_after - serve_own_before
            out["cpu_s"]["of which the embedded database"] = out["cpu_s"]["tocsin serve"] - own
        # CPU per notification: the cost that bounds the storm on a machine's cores, and a
        # figure that moves far less than rates when other work shares the machine.
        if got:
            out["cpu_ms_per_notification"] = 1000 * sum(v for k, v in out["cpu_s"].items()
                                                         if not k.startswith("of which")) / got

        # Alerts, memory, documents. Alerts opened: the evaluator's counter of `fired` alert
        # events (the alert documents are saved later in a round than the alert events),
        # else the alerts in the database, else the alert gauges of /metrics.
        metrics_after = metrics_of(url)
        fired = 'tocsin_alert_events_total{kind="fired"}'
        alerts_after = db.alerts() if db else None
        if fired in metrics_after:
            opened = int(metrics_after[fired] - metrics_before.get(fired, 0))
            source = "fired alert events (/metrics)"
        elif alerts_after is not None and alerts_before is not None:
            opened, source = alerts_after - alerts_before, "alerts in the database"
        else:
            def gauge(m: dict[str, float]) -> int:
                return int(sum(v for k, v in m.items() if k.startswith("tocsin_alerts{")))
            opened, source = gauge(metrics_after) - gauge(metrics_before), "alert gauges (/metrics)"
        out["alerts"] = {"in_db_before": alerts_before, "in_db_after": alerts_after,
                         "opened_in_storm": opened, "counted_from": source}
        out["memory"] = {"rss_before_mb": rss_before / 1024, "rss_after_mb": rss_after / 1024,
                         "kb_per_open_alert": (rss_after - rss_before) / opened if opened > 0 else None}
        out["service_metrics"] = {k: v for k, v in metrics_after.items()
                                  if k.startswith(("tocsin_deliveries", "tocsin_outbox_pending", "tocsin_alerts{",
                                                   "tocsin_alert_events", "tocsin_events_"))}
        if db is not None and counts_before is not None and opened > 0:
            ops_after = db.opcounters()
            counts = db.counts()
            out["documents_storm"] = {
                "alerts": opened, "all_delivered": all_delivered, "counts": counts,
                "per_alert": {k: (v - counts_before.get(k, 0)) / opened for k, v in counts.items()}}
            if ops_before and ops_after:
                out["documents_storm"]["commands_per_alert"] = per_alert_ops(ops_before, ops_after, opened)
        out["log_problems"] = {name: log_problems(Path(p.log_path)) for name, p in procs.items()
                               if name != "receiver" and getattr(p, "log_path", None)}  # the database logs to stderr
        out["ok"] = True
        return out
    except Exception as exc:  # a failed run is reported, and the next one still runs
        out["ok"] = False
        out["error"] = str(exc) if isinstance(exc, RunFailed) else f"{type(exc).__name__}: {exc}"
        out["log_tails"] = {name: tail(getattr(p, "log_path", None), 25) for name, p in procs.items()}
        return out
    finally:
        if db is not None:
            db.close()
        if receiver is not None:
            receiver.close()
        # The service and its workers first (they may still write), then the servers.
        stop([p for name, p in procs.items() if name.startswith("tocsin")])
        stop(list(procs.values()))
        if args.mode == "rabbitmq":
            delete_rabbitmq_queue(queue)
        if args.keep:
            print(f"  (run {index + 1} files kept in {work})", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


# --- report -------------------------------------------------------------------------------

def flat(run: dict[str, Any], prefix: str = "") -> dict[str, float]:
    values: dict[str, float] = {}
    for k, v in run.items():
        if isinstance(v, dict):
            values.update(flat(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            values[prefix + k] = v
    return values


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    flats = [flat(r) for r in runs]
    keys = sorted({k for f in flats for k in f})
    return {k: statistics.median(f[k] for f in flats if k in f) for k in keys}


def fmt(value: float | None, spec: str = ".1f", none: str = "n/a") -> str:
    return none if value is None else format(value, spec)


def print_report(m: dict[str, float], ok: list[dict[str, Any]], args: argparse.Namespace) -> None:
    g = m.get
    n = len(ok)
    print(f"  storm: {args.events:,} events, batches of {args.batch}, {args.clients} client threads")
    print(f"    accepted: {fmt(g('storm.accepted_events_s'), ',.0f')} events/s "
          f"(posting {fmt(g('storm.posting_s'))} s; {fmt(g('storm.accepted'), ',.0f')} accepted)")
    print(f"    notifications/s: {fmt(g('storm.notifications_s_during_posting'))} during the posting, "
          f"{fmt(g('storm.notifications_s_overall'))} overall (first POST -> last notification)")
    incomplete = sum(1 for r in ok if not r["storm"]["complete"])
    if incomplete:
        done = [r["storm"]["last_post_to_last_notification_s"] for r in ok if r["storm"]["complete"]]
        print(f"    last POST answer -> last notification: INCOMPLETE in {incomplete} of {n} run(s): "
              f"not all delivered {args.deadline:.0f} s after the last POST"
              + (f" (complete runs: {', '.join(f'{d:.1f} s' for d in done)})" if done else ""))
    else:
        print(f"    last POST answer -> last notification: {fmt(g('storm.last_post_to_last_notification_s'))} s")
    print(f"    delivered at the deadline ({args.deadline:.0f} s after the last POST): "
          f"{fmt(g('storm.delivered_at_deadline'), ',.0f')} of {fmt(g('storm.accepted'), ',.0f')} "
          f"({fmt((g('storm.delivered_fraction') or 0) * 100, '.1f')} %)")
    print(f"    duplicates: {fmt(g('storm.duplicate_key_requests'), '.0f')} requests repeating an Idempotency-Key, "
          f"{fmt(g('storm.markers_under_two_keys'), '.0f')} alerts notified under two keys, "
          f"{fmt(g('storm.unexpected_markers'), '.0f')} notifications for unaccepted events")
    non202: Counter = Counter()
    for r in ok:
        non202.update(r["storm"]["non_202"])
    unsent = sum(r["storm"]["unsent_batches"] for r in ok)
    print(f"    non-202 answers (all runs): {dict(non202) if non202 else 'none'}"
          + (f"; {unsent} batch(es) never posted (--post-deadline)" if unsent else "")
          + f"; client CPU while posting {fmt(g('storm.client_cores'), '.2f')} cores (bench process)")
    print(f"  event -> webhook, one event every {1000 / args.rate:.0f} ms for {args.latency_seconds:.0f} s: "
          f"p50 {fmt(g('latency.p50_ms'))} ms, p99 {fmt(g('latency.p99_ms'))} ms, max {fmt(g('latency.max_ms'))} ms "
          f"(POST -> 202 p50 {fmt(g('latency.ack_p50_ms'))} ms; missing {fmt(g('latency.missing'), '.0f')})")
    lat_non202: Counter = Counter()
    for r in ok:
        lat_non202.update(r["latency"]["non_202"])
    if lat_non202:
        print(f"    non-202 answers in the warm-up and latency phases (all runs): {dict(lat_non202)}")
    print(f"  alerts opened in the storm by the deadline: {fmt(g('alerts.opened_in_storm'), ',.0f')} "
          f"({ok[0]['alerts']['counted_from']}; alert documents in the database: "
          f"{fmt(g('alerts.in_db_after'), ',.0f')} in all); "
          f"tocsin serve RSS {fmt(g('memory.rss_before_mb'))} -> {fmt(g('memory.rss_after_mb'))} MB: "
          f"{fmt(g('memory.kb_per_open_alert'), '.1f')} kB per open alert"
          + (" (includes the embedded database and its cache)" if args.mode == "embedded" else ""))
    names = {"query": "find", "command": "other"}
    any_docs = False
    for section, label in (("documents_idle", "warm-up + latency phases, one alert at a time"),
                           ("documents_storm", "the storm")):
        docs = {k.split(".", 2)[2]: v for k, v in m.items() if k.startswith(f"{section}.per_alert.")}
        if not docs:
            continue
        any_docs = True
        partial = not all(r.get(section, {}).get("all_delivered", False) for r in ok)
        print(f"  documents per alert, {label} ({fmt(g(section + '.alerts'), ',.0f')} alerts"
              + ("; NOT all delivered: the writes that follow a delivery are missing, ratios of "
                 "collections written before the alert are inflated" if partial else ", all delivered") + "): "
              + ", ".join(f"{k} {v:.2f}" for k, v in sorted(docs.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.005)
              + f"; total {sum(docs.values()):.2f}")
        ops = {k.split(".", 2)[2]: v for k, v in m.items() if k.startswith(f"{section}.commands_per_alert.")}
        if ops:
            print("    database commands per alert (serverStatus opcounters): "
                  + ", ".join(f"{names.get(k, k)} {v:.2f}" for k, v in ops.items()))
    if any_docs:
        print("    (SecantusDB's opcounters count commands, an insert_many of 100 being 1 insert, where mongod "
              "counts documents: these are round trips per alert)")
    else:
        print(f"  documents per alert: not available ({ok[0].get('db_access', '?') if ok else '?'})")
    cpu = {k.split(".", 1)[1]: v for k, v in m.items() if k.startswith("cpu_s.")}
    if cpu:
        wall = g("cpu_wall_s") or 1
        print(f"  CPU during the storm ({fmt(wall)} s, posting + drain): "
              + ", ".join(f"{k} {v:.1f} s ({v / wall:.2f} cores)" for k, v in cpu.items()))
        if g("cpu_ms_per_notification"):
            print(f"  CPU per notification (all service processes): {g('cpu_ms_per_notification'):.2f} ms")
    svc = {k.split(".", 1)[1]: v for k, v in m.items() if k.startswith("service_metrics.")}
    if svc:
        print("  service /metrics after the storm: "
              + ", ".join(f"{k} {v:,.0f}" for k, v in svc.items()
                          if k.startswith(("tocsin_deliveries", "tocsin_outbox_pending", "tocsin_alerts{"))))
    for r in ok:
        for name, problems in r.get("log_problems", {}).items():
            if problems["count"]:
                print(f"  run {r['run']}: {name} logged {problems['count']} error line(s), e.g. "
                      + " | ".join(problems["first"]))


def print_run_line(r: dict[str, Any]) -> None:
    if not r["ok"]:
        print(f"run {r['run']}: FAILED: {r['error']}", flush=True)
        for name, text in r.get("log_tails", {}).items():
            if text:
                print(f"  {name} log (tail):\n{text}")
        return
    s, lat = r["storm"], r["latency"]
    done = (f"{s['last_post_to_last_notification_s']:.1f} s after the last POST" if s["complete"]
            else f"INCOMPLETE: {s['delivered_at_deadline']:,}/{s['accepted']:,} at the deadline")
    print(f"run {r['run']}: {fmt(s['accepted_events_s'], ',.0f')} events/s accepted, "
          f"{fmt(s['notifications_s_during_posting'])} notif/s during posting, "
          f"{fmt(s['notifications_s_overall'])} overall, {done}; latency p50 {fmt(lat['p50_ms'])} ms "
          f"p99 {fmt(lat['p99_ms'])} ms; load {r['load_average']:.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("embedded", "redis", "rabbitmq"), default="embedded")
    parser.add_argument("--events", type=int, default=12000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=120.0,
                        help="seconds after the last POST to wait for the notifications")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0, help="events/s of the latency phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up at --rate")
    parser.add_argument("--warmup-deadline", type=float, default=60.0)
    parser.add_argument("--latency-deadline", type=float, default=30.0,
                        help="seconds after the last latency event to wait for its notification")
    parser.add_argument("--post-deadline", type=float, default=600.0, help="bound on the posting phase")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to wait for late duplicates")
    parser.add_argument("--workers", type=int, default=2, help="`tocsin worker` processes (redis, rabbitmq)")
    parser.add_argument("--worker-threads", type=int, default=16, help="threads of each `tocsin worker` process")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON (last line)")
    parser.add_argument("--keep", action="store_true", help="keep each run's directory (logs, data)")
    parser.add_argument("--receiver-child", metavar="PREFIX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver_child:
        receiver_main(args.receiver_child)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))

    workers = f"{args.workers} `tocsin worker` process(es) x {args.worker_threads} threads"
    shape = {"embedded": "embedded SecantusDB, in-process broker and workers",
             "redis": f"SecantusDB server process, Redis, {workers}",
             "rabbitmq": f"SecantusDB server process, RabbitMQ, {workers}"}
    print(f"tocsin serve, mode {args.mode} ({shape[args.mode]}); {args.runs} run(s); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}. "
          f"Figures on SecantusDB are not MongoDB's.", flush=True)
    runs = []
    try:
        for i in range(args.runs):
            run = one_run(args, i)
            runs.append(run)
            print_run_line(run)
    finally:
        _kill_all()
    ok = [r for r in runs if r["ok"]]
    result: dict[str, Any] = {"args": {k: v for k, v in vars(args).items() if k != "receiver_child"},
                              "runs": runs}
    if ok:
        m = medians(ok)
        result["median"] = m
        print(f"median of {len(ok)} completed run(s) of {len(runs)}:" if len(ok) > 1 else "figures:")
        print_report(m, ok, args)
    if args.json:
        print(json.dumps(result, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; child processes killed", file=sys.stderr)
        sys.exit(130)
