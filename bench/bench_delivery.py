"""Delivery throughput and latency: Dramatiq workers on Redis -> a local webhook receiver.

    .venv/bin/python bench/bench_delivery.py [--count 3000] [--runs 3] [--threads 64]

The receiver (its own process, asyncio, HTTP/1.1 keep-alive) answers every request
after 50 ms and notes the time it arrived. For 1 and 2 worker processes
(`delivery.worker.run_worker`, what `tocsin worker` runs) it prints medians over
`--runs` runs of:
- throughput: `--count` webhook deliveries are queued while no worker runs, then the
  workers start; notifications/s from the first receipt to the last;
- latency: deliveries queued at a steady `--rate` per second (8 enqueueing threads)
  while the workers run; p50/p99 from enqueue to receipt.
Redis: `TOCSIN_REDIS_URL` if set, else a local server started like the tests do.
Workers record attempts in a `MemoryDeliveryLog` (the service's MongoDB log is not
part of this figure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from delivery.request import DeliveryRequest, delivery_id  # noqa: E402

WORKER = (
    "import sys\n"
    "from delivery.log import MemoryDeliveryLog\n"
    "from delivery.worker import run_worker\n"
    "sys.exit(run_worker(sys.argv[1], MemoryDeliveryLog, processes=int(sys.argv[2]),"
    " threads=int(sys.argv[3])))\n"
)


# --- the receiver -----------------------------------------------------------------------

def _receiver_main(port_queue: multiprocessing.Queue, delay: float) -> None:
    received: dict[str, float] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                if lines[0].startswith("GET /stats"):
                    body = json.dumps(received).encode()
                    received.clear()
                else:
                    received[headers.get("idempotency-key", "")] = time.time()
                    await asyncio.sleep(delay)
                    body = b"ok"
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def fetch_received(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30) as response:
        return json.loads(response.read())


# --- requests and runs --------------------------------------------------------------------

def make_request(url: str, tag: str, i: int) -> DeliveryRequest:
    alert_event_id = f"bench-{tag}-{i}"
    return DeliveryRequest(
        id=delivery_id(alert_event_id, "webhook", "bench"),
        alert_event_id=alert_event_id,
        document={"id": f"al-{i}", "monitor": "bench", "severity": "error", "status": "firing",
                  "key": {"i": i}, "kind": "fired", "count": 1, "value": None, "threshold": None,
                  "fired_at": "2026-11-22T07:30:00.000Z", "resolved_at": None,
                  "url": f"http://tocsin.test/v1/alerts/al-{i}", "labels": {}, "message": None,
                  "event": {"id": f"e-{i}", "type": "execution.failed", "flow": "Sync"}},
        destination={"kind": "webhook", "address": "bench", "group": None},
        channel={"kind": "webhook", "name": "bench", "url": url, "method": "POST", "headers": [],
                 "timeout": 10.0, "signing_secret": None, "payload": None},
        group=None,
        monitor={"name": "bench", "severity": "error", "labels": {}},
        message_template="{{ monitor.name }} failed on $FLOW",
    )


def wait_all(port: int, expected: set[str], timeout: float = 120.0) -> dict[str, float]:
    got: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while not expected <= got.keys():
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(expected & got.keys())}/{len(expected)} received")
        time.sleep(0.2)
        got.update(fetch_received(port))
    return got


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def enqueue_all(enqueue, requests: list[DeliveryRequest], rate: float | None) -> dict[str, float]:
    """Enqueue from 8 threads (one Redis round trip each), paced at `rate` if given."""
    sent_at: dict[str, float] = {}
    start = time.time()

    def one(item: tuple[int, DeliveryRequest]) -> None:
        i, request = item
        if rate:
            pause = start + i / rate - time.time()
            if pause > 0:
                time.sleep(pause)
        sent_at[request.id] = time.time()
        enqueue(request)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, enumerate(requests)))
    return sent_at


def latencies(sent_at: dict[str, float], got: dict[str, float]) -> dict[str, float]:
    values = [(got[k] - sent_at[k]) * 1000 for k in sent_at]
    return {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99)}


def burst_run(enqueue, url: str, port: int, tag: str, count: int, worker_args) -> dict:
    """Queue `count` deliveries with no worker running, then start the workers and
    time the drain from the first receipt to the last (worker start-up excluded)."""
    sent_at = enqueue_all(enqueue, [make_request(url, tag, i) for i in range(count)], None)
    with workers(*worker_args):
        got = wait_all(port, set(sent_at))
    times = sorted(got[k] for k in sent_at)
    return {"per_second": (count - 1) / (times[-1] - times[0]), **latencies(sent_at, got)}


def paced_run(enqueue, url: str, port: int, tag: str, count: int, rate: float) -> dict:
    sent_at = enqueue_all(enqueue, [make_request(url, tag, i) for i in range(count)], rate)
    return latencies(sent_at, wait_all(port, set(sent_at)))


@contextlib.contextmanager
def redis_url():
    if os.environ.get("TOCSIN_REDIS_URL"):
        yield os.environ["TOCSIN_REDIS_URL"]
        return
    from tests.support.servers import redis_server

    with redis_server() as url:
        yield url


@contextlib.contextmanager
def workers(url: str, processes: int, threads: int):
    proc = subprocess.Popen([sys.executable, "-c", WORKER, url, str(processes), str(threads)],
                            cwd=ROOT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()

    import delivery
    from delivery.log import MemoryDeliveryLog
    from delivery.worker import redis_broker

    ports: multiprocessing.Queue = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_receiver_main, args=(ports, args.delay), daemon=True)
    receiver.start()
    port = ports.get(timeout=10)
    hook_url = f"http://127.0.0.1:{port}/hook"
    print(f"receiver answers after {args.delay * 1000:.0f} ms; {args.threads} threads per worker "
          f"process; medians of {args.runs} runs")
    try:
        with redis_url() as url:
            broker = redis_broker(url)
            broker.flush_all()
            delivery.setup(broker, MemoryDeliveryLog())
            for processes in (1, 2):
                worker_args = (url, processes, args.threads)
                burst = [burst_run(delivery.enqueue, hook_url, port, f"b{processes}-{r}",
                                   args.count, worker_args) for r in range(args.runs)]
                with workers(*worker_args):
                    paced_run(delivery.enqueue, hook_url, port, f"w{processes}", 200, args.rate)
                    paced = [paced_run(delivery.enqueue, hook_url, port, f"p{processes}-{r}",
                                       int(args.rate * 4), args.rate) for r in range(args.runs)]
                rate = statistics.median(r["per_second"] for r in burst)
                p50 = statistics.median(r["p50_ms"] for r in paced)
                p99 = statistics.median(r["p99_ms"] for r in paced)
                print(f"{processes} worker process(es): {rate:.0f} notifications/s draining "
                      f"{args.count} queued | paced {args.rate:.0f}/s: enqueue->receipt "
                      f"p50 {p50:.0f} ms, p99 {p99:.0f} ms", flush=True)
            broker.close()
    finally:
        receiver.terminate()
        receiver.join()


if __name__ == "__main__":
    main()
