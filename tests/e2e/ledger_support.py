"""What the delivery-ledger fault scenarios (issue 8) share: rules, events, brokers, checks.

    with Deployment(tmp_path, receiver, db=db, broker=broker) as d:   # serve (+ worker)
        markers = d.post_failures(8)           # one execution.failed per fresh marker
        ...                                    # kill, freeze, restart something
        d.check(markers)                       # the promises below

`Deployment.check` asserts what every scenario promises (semantics.md § Delivery
guarantees):
- every expected notification arrived (its marker in a 2xx-answered request);
- none arrived under two idempotency keys (repeats under one key are allowed: at
  least once), and no two markers share a key;
- the ledger settles: no entry is left `pending`/`sending`, each marker's entry is
  `sent`, and its key is the entry's `_id`;
- nothing was made twice: one alert event, one ledger entry and one
  `notification.sent` event per event posted.

Timings are shortened through settings (`FAST`), never by sleeping: every wait is a
`wait_for` with a deadline.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis as redis_client
from pymongo import MongoClient

from tests.support.processes import (
    REPO_ROOT,
    ManagedProcess,
    ReceivedRequest,
    RecordingReceiver,
    RedisProcess,
    SecantusProcess,
    ServiceProcess,
    WorkerProcess,
    child_env,
    new_marker,
    require_rabbitmq_url,
    unique_queue,
    wait_for,
)
from tests.support.recording_receiver import MARKER
from tests.support.servers import free_port

# Shortened so a fault heals in seconds: the reconciler looks every 0.2 s, a wake-up not
# acted on is re-sent after 2 s, a claim holds 4 s (above 3x the channel timeout of 1 s,
# except where a scenario says otherwise), retries start after 0.15-0.3 s, an evaluator
# lease lasts 2 s.
FAST: dict[str, str] = {
    "TOCSIN_RECONCILE_SECONDS": "0.2",
    "TOCSIN_DELIVERY_WAKE_GRACE_SECONDS": "2",
    "TOCSIN_DELIVERY_LEASE_SECONDS": "4",
    "TOCSIN_DELIVERY_RETRY_BASE": "0.3",
    "TOCSIN_LEASE_SECONDS": "2",
    "TOCSIN_TICK_SECONDS": "0.2",
    "TOCSIN_GAP_GRACE_SECONDS": "0.5",
}
OPEN_STATES = ("pending", "sending")
SETTLE_SECONDS = 45.0  # deadline for a healed deployment to deliver and settle everything


def write_rules(directory: Path, receiver_url: str, *, timeout: str = "1s", extra: str = "") -> Path:
    """`directory/rules/main.rules`: every `execution.failed` notifies the receiver
    (monitor "m", webhook "hook"); `extra` rule text is appended."""
    rules = directory / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "main.rules").write_text(
        f'webhook "hook" {{ url "{receiver_url}" timeout {timeout} }}\n'
        'monitor "m" when execution.failed notify webhook "hook"\n' + extra)
    return rules


def failed_event(marker: str) -> dict[str, Any]:
    """An `execution.failed` of its own instance (so its own alert), named by `marker`."""
    return {"id": f"ev_{marker}", "type": "execution.failed",
            "instance": {"id": marker, "name": marker}, "execution": {"id": marker}}


# -- brokers -----------------------------------------------------------------------------

class Broker:
    """A broker under test: its URL and queue; how to make it lose its queued wake-ups,
    and how to freeze it (SIGSTOP: sockets open, nothing answered)."""

    kind = "broker"
    url: str
    queue: str

    def queued(self) -> int:
        """Wake-ups waiting in the delivery queue (not yet handed to a worker)."""
        raise NotImplementedError

    def lose_queued(self) -> None:
        """Every queued wake-up gone, as a broker crash without persistence does."""
        raise NotImplementedError

    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RedisBroker(Broker):
    """A `redis-server` of the test's own: `lose_queued()` restarts it empty."""

    kind = "redis"

    def __init__(self, log_dir: Path) -> None:
        self.server = RedisProcess(log_dir=log_dir).start()
        self.url = self.server.url
        self.queue = unique_queue()
        self._client = redis_client.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def queued(self) -> int:
        return int(self._client.llen(f"dramatiq:{self.queue}"))  # Dramatiq's queue: a list of ids

    def lose_queued(self) -> None:
        self.server.restart_empty()

    def freeze(self) -> None:
        self.server.freeze()

    def thaw(self) -> None:
        self.server.thaw()

    def close(self) -> None:
        self._client.close()
        self.server.stop()


class ProxyProcess(ManagedProcess):
    """`tests.e2e.tcp_proxy` in front of `target`: freeze it to freeze a shared server."""

    name = "proxy"
    stop_grace = 0.0

    def __init__(self, target: tuple[str, int], *, log_dir: Path | None = None) -> None:
        super().__init__(env=child_env(), cwd=REPO_ROOT, log_dir=log_dir)
        self.target = target
        self.port = free_port()

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "tests.e2e.tcp_proxy", str(self.port), self.target[0], str(self.target[1])]

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True


class RabbitBroker(Broker):
    """The machine's RabbitMQ, shared by parallel tests and so never stopped: a queue of
    the test's own, reached through a `ProxyProcess` that `freeze()` stops; `lose_queued()`
    purges the queue, the loss a broker restart without persistent messages causes."""

    kind = "rabbitmq"

    def __init__(self, log_dir: Path) -> None:
        self.direct_url = require_rabbitmq_url()
        parts = urlsplit(self.direct_url)
        self.proxy = ProxyProcess((parts.hostname or "127.0.0.1", parts.port or 5672), log_dir=log_dir).start()
        netloc = f"{parts.username or 'guest'}:{parts.password or 'guest'}@127.0.0.1:{self.proxy.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        self.queue = unique_queue()

    @contextlib.contextmanager
    def _channel(self) -> Iterator[Any]:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.direct_url))
        try:
            yield connection.channel()
        finally:
            connection.close()

    def queued(self) -> int:
        import pika.exceptions

        try:
            with self._channel() as channel:
                return channel.queue_declare(self.queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:  # not declared yet
            return 0

    def lose_queued(self) -> None:
        with self._channel() as channel:
            channel.queue_purge(self.queue)

    def freeze(self) -> None:
        self.proxy.freeze()

    def thaw(self) -> None:
        self.proxy.thaw()

    def close(self) -> None:
        self.proxy.stop()
        with contextlib.suppress(Exception), self._channel() as channel:
            for name in (self.queue, f"{self.queue}.DQ", f"{self.queue}.XQ"):
                channel.queue_delete(name)


def open_broker(kind: str, log_dir: Path) -> Broker:
    """`"redis"` (a `redis-server` of its own) or `"rabbitmq"` (the shared one, proxied)."""
    return RedisBroker(log_dir) if kind == "redis" else RabbitBroker(log_dir)


# -- the ledger as stored ----------------------------------------------------------------

class LedgerView:
    """The `deliveries` collection (and friends) read straight from the database."""

    def __init__(self, uri: str, database: str) -> None:
        self.client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=3000)
        self.db = self.client[database]

    def open_entries(self) -> list[dict[str, Any]]:
        return list(self.db.deliveries.find({"state": {"$in": list(OPEN_STATES)}}, {"request": 0}))

    def by_marker(self) -> dict[str, dict[str, Any]]:
        """Each entry keyed by the marker of its triggering event (`instance.id`)."""
        found = {}
        for d in self.db.deliveries.find({}, {"request.document.event.instance.id": 1, "state": 1, "attempts": 1}):
            event = d.pop("request", {}).get("document", {}).get("event") or {}
            found[(event.get("instance") or {}).get("id")] = d
        return found

    def count(self, collection: str, query: Mapping[str, Any] | None = None) -> int:
        return self.db[collection].count_documents(dict(query or {}))

    def quietly(self, read: Callable[[LedgerView], Any], default: Any = None) -> Any:
        """`read(self)`, or `default` while the database is away (for waits during faults)."""
        try:
            return read(self)
        except Exception:
            return default

    def close(self) -> None:
        self.client.close()


# -- checks ------------------------------------------------------------------------------

def requests_by_marker(receiver: RecordingReceiver) -> dict[str, list[ReceivedRequest]]:
    """Every request (answered or not) carrying each marker, in arrival order."""
    found: dict[str, list[ReceivedRequest]] = defaultdict(list)
    for r in receiver.requests:
        for marker in set(MARKER.findall(r.raw.decode("utf-8", "replace"))):  # markers need no escaping
            found[marker].append(r)
    return found


def delivered_on(receiver: RecordingReceiver, path: str) -> set[str]:
    """The markers of the 2xx-answered requests to `path` (say a second webhook's)."""
    return {m for r in receiver.requests if r.delivered and r.path == path
            for m in MARKER.findall(r.raw.decode("utf-8", "replace"))}


def missing(receiver: RecordingReceiver, markers: Iterable[str]) -> set[str]:
    """The markers no 2xx-answered request carried yet."""
    return set(markers) - set(receiver.markers())


def key_problems(receiver: RecordingReceiver, markers: Iterable[str]) -> list[str]:
    """Markers sent under more than one idempotency key, keys shared by markers, requests
    without a key: each a line of text (empty when all is well)."""
    problems = []
    owner: dict[str, str] = {}
    by_marker = requests_by_marker(receiver)
    for marker in markers:
        keys = {r.idempotency_key for r in by_marker.get(marker, [])}
        if None in keys:
            problems.append(f"{marker}: a request without Idempotency-Key")
        if len(keys - {None}) > 1:
            problems.append(f"{marker}: sent under {len(keys)} different keys {sorted(k for k in keys if k)}")
        for key in keys - {None}:
            if owner.setdefault(key, marker) != marker:
                problems.append(f"key {key} carries both {owner[key]} and {marker}")
        webhook_ids = {r.webhook_id for r in by_marker.get(marker, [])} - {None}
        if webhook_ids and webhook_ids != keys:
            problems.append(f"{marker}: webhook-id {webhook_ids} differs from Idempotency-Key {keys}")
    return problems


def describe(receiver: RecordingReceiver, ledger: LedgerView | None, *logs: str) -> str:
    """What a failing wait shows: the receiver's tally, the open entries, the logs' tails."""
    tally = {m: [(r.idempotency_key, r.status) for r in rs] for m, rs in requests_by_marker(receiver).items()}
    lines = [f"receiver: {receiver.count} requests; by marker: {tally}"]
    if ledger is not None:
        lines.append(f"open ledger entries: {ledger.quietly(lambda v: v.open_entries(), 'database away')}")
    for text in logs:
        lines.append("--- log tail ---\n" + "\n".join(text.splitlines()[-60:]))
    return "\n".join(lines)


# -- a deployment ------------------------------------------------------------------------

class Deployment:
    """`tocsin serve` (and a `tocsin worker` when there is a broker) on a database, with
    the rules pointing at `receiver`.

    `db=None` runs the embedded default (`TOCSIN_DATA_DIR` under `tmp_path`); then
    `ledger` is None and the ledger is read through the API. `replicas` > 1 starts that
    many `tocsin serve` on the same database (`services`; `service` is the first).
    """

    def __init__(self, tmp_path: Path, receiver: RecordingReceiver, *, db: SecantusProcess | None = None,
                 broker: Broker | None = None, env: Mapping[str, str] | None = None, replicas: int = 1,
                 worker_threads: int = 8, timeout: str = "1s", extra_rules: str = "") -> None:
        self.tmp_path = tmp_path
        self.receiver = receiver
        self.db = db
        self.broker = broker
        self.database = f"e2e_{uuid.uuid4().hex[:10]}"
        write_rules(tmp_path, receiver.url, timeout=timeout, extra=extra_rules)
        self.env = {**FAST, **(env or {})}
        if db is not None:
            self.env.update(TOCSIN_MONGODB_URI=db.uri, TOCSIN_MONGODB_DATABASE=self.database)
        else:
            self.env["TOCSIN_DATA_DIR"] = str(tmp_path / "data")
        if broker is not None:
            self.env.update(TOCSIN_BROKER_URL=broker.url, TOCSIN_DELIVERY_QUEUE=broker.queue)
        self.services = [ServiceProcess(tmp_path, self.env, log_dir=tmp_path) for _ in range(replicas)]
        self.worker = (WorkerProcess(self.env, threads=worker_threads, log_dir=tmp_path)
                       if broker is not None else None)
        self.ledger = LedgerView(db.uri, self.database) if db is not None else None
        self.http = httpx.Client(timeout=10)

    @property
    def service(self) -> ServiceProcess:
        return self.services[0]

    def start(self) -> Self:
        for service in self.services:
            service.start()
        if self.worker is not None:
            self.worker.start()
        return self

    def stop(self) -> None:
        for process in (self.worker, *self.services):
            if process is not None:
                process.stop()
        self.http.close()
        if self.ledger is not None:
            self.ledger.close()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- events --------------------------------------------------------------------------

    def post(self, events: list[dict[str, Any]], *, service: ServiceProcess | None = None) -> dict[str, Any]:
        """POST a batch; it must be accepted (202)."""
        r = self.http.post(f"{(service or self.service).url}/v1/events", json=events)
        assert r.status_code == 202, f"POST /v1/events answered {r.status_code}: {r.text}"
        return r.json()

    def post_failures(self, count: int, *, service: ServiceProcess | None = None) -> list[str]:
        """Post `count` `execution.failed` events with fresh markers in one batch; the markers."""
        markers = [new_marker() for _ in range(count)]
        self.post([failed_event(m) for m in markers], service=service)
        return markers

    # -- waits and checks ----------------------------------------------------------------

    def logs(self) -> list[str]:
        return [p.log() for p in (*self.services, self.worker) if p is not None]

    def explain(self) -> str:
        return describe(self.receiver, self.ledger, *self.logs())

    def wait_delivered(self, markers: Iterable[str], timeout: float = SETTLE_SECONDS) -> None:
        markers = list(markers)
        wait_for(lambda: not missing(self.receiver, markers), timeout=timeout,
                 message=lambda: f"never delivered: {sorted(missing(self.receiver, markers))}\n{self.explain()}")

    def wait_settled(self, markers: Iterable[str], timeout: float = SETTLE_SECONDS) -> dict[str, dict[str, Any]]:
        """Wait until the ledger holds one final entry per marker and nothing open; returns
        the entries by marker."""
        assert self.ledger is not None, "an embedded deployment's ledger is read through the API"
        markers = set(markers)

        def settled() -> bool:
            entries = self.ledger.quietly(lambda v: v.by_marker(), {})
            return markers <= set(entries) and not any(e["state"] in OPEN_STATES for e in entries.values())

        wait_for(settled, timeout=timeout, message=lambda: f"ledger not settled\n{self.explain()}")
        return self.ledger.by_marker()

    def check(self, markers: Iterable[str], timeout: float = SETTLE_SECONDS) -> dict[str, dict[str, Any]]:
        """The promises of the module docstring for `markers`, every event posted to this
        deployment; returns the ledger entries by marker."""
        markers = list(markers)
        self.wait_delivered(markers, timeout)
        entries = self.wait_settled(markers, timeout)
        assert not key_problems(self.receiver, markers), "\n".join(key_problems(self.receiver, markers))
        not_sent = {m: e["state"] for m, e in entries.items() if m in markers and e["state"] != "sent"}
        assert not not_sent, f"entries not sent: {not_sent}\n{self.explain()}"
        open_ = self.ledger.open_entries()
        assert not open_, f"open ledger entries left: {open_}"
        by_marker = requests_by_marker(self.receiver)
        for marker in markers:
            keys = {r.idempotency_key for r in by_marker[marker]}
            assert keys == {entries[marker]["_id"]}, f"{marker}: keys {keys} are not its entry's id"
        # One alert event, one entry and one final `notification.sent` per event: a replay
        # (failover, a database restart) made nothing twice.
        # (`notification.sent` is stored just after the outcome it reports: waited for.)
        def counts() -> dict[str, int]:
            return {name: self.ledger.count(name, query) for name, query in (
                ("alert_events", {}), ("deliveries", {}), ("events", {"event.type": "notification.sent"}))}

        wait_for(lambda: counts() == dict.fromkeys(counts(), len(markers)), timeout=10,
                 message=lambda: f"{counts()} for {len(markers)} events")
        return entries


def monotonic_to_wall(at: float) -> float:
    """A `time.monotonic()` reading (say a receiver's `at`) as Unix time."""
    return time.time() - (time.monotonic() - at)
