"""`run_worker`: forked Dramatiq worker processes on real Redis, each with its own
`MongoLedger` (SecantusDB), stopped by SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pymongo import MongoClient

import delivery
from delivery.actors import QUEUE_NAME
from delivery.ledger import SENT, MemoryLedger, new_entry
from delivery.worker import make_broker
from tests.delivery.support import WebhookChannel, one_request

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import sys\n"
    "from delivery.worker import run_worker\n"
    "from service.ledger_store import MongoLedger\n"
    "sys.exit(run_worker(sys.argv[1], MongoLedger.factory(sys.argv[2], sys.argv[3]),\n"
    "                    processes=2, threads=4))\n"
)
N = 20


def _wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_two_worker_processes_deliver_and_stop_on_sigterm(redis_url, mongo_uri, receiver):
    name = f"worker_{uuid.uuid4().hex[:12]}"
    client = MongoClient(mongo_uri, tz_aware=True)
    db = client[name]
    broker = make_broker(redis_url)
    broker.flush_all()
    delivery.setup(broker, MemoryLedger())  # this process only sends wake-ups
    requests = [one_request(WebhookChannel("ops", url=receiver.url), id=f"ae-{i}") for i in range(N)]
    ids = sorted(r.id for r in requests)
    assert len(set(ids)) == N
    now = datetime.now(timezone.utc)
    db.deliveries.insert_many([new_entry(r, now, wake_grace=10) for r in requests])
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, redis_url, mongo_uri, name], cwd=ROOT)
    try:
        assert delivery.wake(ids) == N
        got = receiver.wait_for(N, timeout=30)
        assert sorted(r.headers["idempotency-key"] for r in got) == ids  # each once

        # outcomes are group-committed after the send: wait for them (before stopping)
        def all_sent() -> bool:
            return db.deliveries.count_documents({"state": SENT}) == N

        assert _wait_until(all_sent, timeout=30), list(db.deliveries.find({}, {"state": 1}))
        for entry in db.deliveries.find():
            assert entry["state"] == SENT and "due_at" not in entry and entry["claimed_by"] is None
            (attempt,) = entry["attempts"]
            assert attempt["attempt"] == 1 and attempt["status"] == 200 and attempt["outcome"] == "ok"

        def all_events() -> bool:
            return db.events.count_documents({}) >= N

        assert _wait_until(all_events, timeout=30)
        stored = list(db.events.find())
        assert sorted(d["_id"] for d in stored) == sorted(f"{i}-sent" for i in ids)
        assert {d["event"]["type"] for d in stored} == {"notification.sent"}
        assert sorted(d["event"]["data"]["delivery_id"] for d in stored) == ids
        # unique, not necessarily contiguous: `seq` may have holes (SeqReader steps over
        # them); SecantusDB makes one when both processes create the counter at once
        assert len({d["seq"] for d in stored}) == N
        assert len(receiver.requests) == N  # nothing sent twice meanwhile
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        broker.flush(QUEUE_NAME)
        broker.close()
        client.drop_database(name)
        client.close()
    assert code == 0
