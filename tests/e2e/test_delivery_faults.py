"""Issue 8, scenarios 1-3 and 9: a worker, the broker or the database fails mid-delivery,
with each broker (Redis, RabbitMQ); nothing is lost, nothing is sent under two keys,
nothing is left open in the ledger (`Deployment.check`)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

from tests.e2e.ledger_support import SETTLE_SECONDS, Deployment, delivered_on, failed_event, open_broker
from tests.support.processes import new_marker, wait_for

BROKERS = ["redis", "rabbitmq"]
FREEZE_SECONDS = 10.0  # the figure, longer than the Redis client's 5 s socket timeout


@pytest.fixture(params=BROKERS)
def broker(request, tmp_path):
    with open_broker(request.param, tmp_path) as b:
        yield b


def test_worker_killed_with_deliveries_in_flight(tmp_path, secantus_process, broker, recording_receiver):
    """1: kill -9 the worker while it waits on a slow receiver; restarted, it sends every
    entry, the killed sends again under the same key, within the claim's lease (not
    Dramatiq's ~95 s dead-worker check)."""
    receiver = recording_receiver
    receiver.slow(2.0)
    # A 3 s channel timeout so the 2 s answers count as sent; the 4 s lease still outlasts it.
    with Deployment(tmp_path, receiver, db=secantus_process, broker=broker, worker_threads=4,
                    timeout="3s") as d:
        markers = d.post_failures(8)
        wait_for(lambda: receiver.count >= 4, timeout=20, message=d.explain)
        in_flight = set(receiver.keys())
        d.worker.kill9()
        receiver.ok()
        d.worker.start()
        d.check(markers, timeout=30)
        resent = Counter(receiver.keys())
        assert all(resent[k] >= 2 for k in in_flight), f"in flight at the kill {in_flight}, sent {resent}"


def test_broker_loses_queued_wake_ups(tmp_path, secantus_process, broker, recording_receiver):
    """2: the broker loses every queued wake-up (Redis restarted empty; RabbitMQ's queue
    purged, as its restart without persistent messages would) while the worker is down:
    the reconciler wakes the entries again and everything is sent."""
    with Deployment(tmp_path, recording_receiver, db=secantus_process, broker=broker) as d:
        d.worker.terminate()
        markers = d.post_failures(10)
        wait_for(lambda: broker.queued() >= len(markers), timeout=20,
                 message=lambda: f"{broker.queued()} wake-ups queued\n{d.explain()}")
        broker.lose_queued()
        # Open and never attempted: `pending`, or born `sending` for Redis workers to adopt
        # (their lease ends, then the reconciler wakes them)
        assert d.ledger.count("deliveries", {"state": {"$in": ["pending", "sending"]}, "attempts": []}) == len(markers)
        d.worker.start()
        d.check(markers)


def test_broker_frozen_while_events_are_posted(tmp_path, secantus_process, broker, recording_receiver):
    """2: the broker frozen (SIGSTOP: Redis itself; RabbitMQ, shared, through a frozen
    proxy) while events arrive, then thawed: events are still accepted, /readyz answers
    within its 1 s bound, everything is sent, and wake-ups that went out twice (the
    reconciler's beside the first, held in the frozen socket) send nothing twice under
    different keys. Frozen 10 s, as the issue has it: longer than the Redis client's 5 s
    socket timeout, so failed wake-ups are exercised."""
    with Deployment(tmp_path, recording_receiver, db=secantus_process, broker=broker) as d:
        warm = d.post_failures(3)
        d.wait_delivered(warm)
        broker.freeze()
        frozen_at = time.monotonic()
        markers = d.post_failures(5)
        markers += d.post_failures(5)
        wait_for(lambda: d.ledger.count("deliveries") == len(warm) + len(markers), timeout=10, message=d.explain)
        asked = time.monotonic()
        ready = httpx.get(f"{d.service.url}/readyz", timeout=10)
        assert time.monotonic() - asked < 1.5, f"/readyz took {time.monotonic() - asked:.2f}s with the broker frozen"
        assert ready.status_code == 503, ready.text
        time.sleep(max(0.0, frozen_at + FREEZE_SECONDS - time.monotonic()))  # the fault's length, not a wait on work
        broker.thaw()
        d.check(warm + markers)


def test_database_killed_while_delivering_and_accepting(tmp_path, secantus_process, broker, recording_receiver):
    """3: the database killed -9 while workers are mid-send and while events arrive.
    Posts answer 503 with Retry-After while it is away (never 500, never 202 for an event
    not stored); retried until 202, every acknowledged event is notified, and the sends
    that went out during the outage are recorded once it is back, under the same key."""
    db, receiver = secantus_process, recording_receiver
    receiver.slow(1.0)
    # Two worker threads: most wake-ups are still queued at the kill, so their claims meet
    # the outage (and are dropped, to be woken again), while two sends are mid-flight.
    with Deployment(tmp_path, receiver, db=db, broker=broker, timeout="3s", worker_threads=2) as d:
        markers = d.post_failures(8)
        wait_for(lambda: receiver.count >= 2, timeout=20, message=d.explain)
        db.kill9()
        late = [new_marker() for _ in range(5)]
        posters = [Poster(d.service.url, failed_event(m)) for m in late]
        wait_for(lambda: any(p.refused for p in posters), timeout=20,
                 message=lambda: f"statuses while the database is down: {[p.statuses for p in posters]}")
        receiver.ok()
        db.start()
        for p in posters:
            p.join(timeout=60)
        for p in posters:
            assert p.accepted, f"never accepted: {p.statuses} {p.errors}"
            assert set(p.statuses) <= {202, 503}, p.statuses
            assert not p.errors, f"no answer within the client's 20 s: {p.errors}"
            assert all(p.retry_after), "a 503 without Retry-After"
        d.check(markers + late)


def test_database_killed_while_events_stream_in_chained_monitor(tmp_path, secantus_process, recording_receiver):
    """3, with events streaming in and a second monitor on the service's own `alert.fired`
    (spec/events.md: the service emits them so that monitors can match them): after three
    kills of the database, every acknowledged event is notified, and so is the
    `alert.fired` of each of its alerts. In-process broker: the broker is not the point."""
    db, receiver = secantus_process, recording_receiver
    chained = "/chained"
    extra = (f'webhook "chained" {{ url "{receiver.base_url}{chained}" timeout 1s }}\n'
             'monitor "chain" when alert.fired notify webhook "chained"\n')
    with Deployment(tmp_path, receiver, db=db, extra_rules=extra) as d:
        stream = EventStream(d.service.url, clients=3)
        try:
            for _ in range(3):
                wanted = len(stream.accepted) + 20
                wait_for(lambda: len(stream.accepted) >= wanted, timeout=30, message=d.explain)
                db.kill9()
                db.start()
            wanted = len(stream.accepted) + 10
            wait_for(lambda: len(stream.accepted) >= wanted, timeout=30, message=d.explain)
        finally:
            stream.stop()
        accepted = set(stream.accepted)
        assert stream.statuses <= {202, 503}, stream.statuses

        def lost(path: str) -> set[str]:
            return accepted - delivered_on(receiver, path)

        def tally() -> str:
            fired = d.ledger.count("events", {"event.type": "alert.fired", "event.data.monitor": "m"})
            return (f"{len(lost('/hook'))} direct and {len(lost(chained))} chained notifications missing of "
                    f"{len(accepted)}; `alert.fired` stored for {fired} of "
                    f"{d.ledger.count('alert_events', {'monitor': 'm'})} alert events of monitor m")

        wait_for(lambda: not lost("/hook"), timeout=SETTLE_SECONDS, message=tally)
        wait_for(lambda: not lost(chained), timeout=15, message=tally)  # chained ones follow within seconds
        wait_for(lambda: not d.ledger.open_entries(), timeout=SETTLE_SECONDS, message=d.explain)


class EventStream:
    """`clients` threads posting `execution.failed` events back to back, each retried
    until accepted; `accepted` holds the markers answered 202, `statuses` every status."""

    def __init__(self, url: str, clients: int) -> None:
        self.url = url
        self.accepted: list[str] = []
        self.statuses: set[int] = set()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                marker = new_marker()
                while True:  # once sent, an event is retried until accepted, even when stopping
                    try:
                        r = http.post(f"{self.url}/v1/events", json=failed_event(marker))
                    except httpx.HTTPError:
                        continue
                    self.statuses.add(r.status_code)
                    if r.status_code == 202:
                        self.accepted.append(marker)
                        break
                    time.sleep(0.1)  # a client's pause between retries, not a wait on the service


class Poster(threading.Thread):
    """POSTs one event until it is accepted (202), keeping every answer it got."""

    def __init__(self, url: str, event: dict, deadline: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.url, self.event, self.deadline = url, event, time.monotonic() + deadline
        self.statuses: list[int] = []
        self.retry_after: list[bool] = []  # one per 503: did it carry Retry-After?
        self.errors: list[str] = []
        self.start()

    @property
    def refused(self) -> bool:
        return 503 in self.statuses

    @property
    def accepted(self) -> bool:
        return 202 in self.statuses

    def run(self) -> None:
        # 20 s: a request that queues behind a failing group commit waits out its server
        # selection (5 s) and then its own; the point is that an answer comes.
        with httpx.Client(timeout=20) as http:
            while time.monotonic() < self.deadline:
                try:
                    r = http.post(f"{self.url}/v1/events", json=self.event)
                except httpx.HTTPError as exc:  # kept: the service should answer, not drop us
                    self.errors.append(repr(exc))
                    continue
                self.statuses.append(r.status_code)
                if r.status_code == 202:
                    return
                if r.status_code == 503:
                    self.retry_after.append("retry-after" in r.headers)
                time.sleep(0.1)  # a client's pause between retries, not a wait on the service
