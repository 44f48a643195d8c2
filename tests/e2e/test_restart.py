"""Kill `tocsin serve` between an event and its timer: after a restart the timer fires
once and nothing is sent twice."""

from __future__ import annotations

import os
import signal
import uuid

import httpx
from pymongo import MongoClient

from tests.e2e.conftest import metric, tocsin_serve
from tests.service.receiver import Receiver
from tests.support.processes import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_timer_fires_once_after_kill_and_restart(mongo_uri, tmp_path):
    database = f"e2e_{uuid.uuid4().hex[:10]}"
    with Receiver() as receiver:
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "main.rules").write_text(
            f'webhook "hook" {{ url "{receiver.url}" }}\n'
            'monitor "slow" when execution.duration >= 4s notify webhook "hook"\n')
        env = {"TOCSIN_MONGODB_URI": mongo_uri, "TOCSIN_MONGODB_DATABASE": database,
               "TOCSIN_LEASE_SECONDS": "2", "TOCSIN_TICK_SECONDS": "0.2",
               "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        with tocsin_serve(tmp_path, env) as (proc, url):
            r = httpx.post(f"{url}/v1/events", json={"id": "s1", "type": "execution.started",
                                                     "instance": {"id": "i1"}, "execution": {"id": "x1"}})
            assert r.status_code == 202
            wait_for(lambda: metric(url, "tocsin_events_evaluated_total") >= 1, timeout=10,
                     message="the started event was not evaluated")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert receiver.count == 0
        client = MongoClient(mongo_uri)
        try:
            with tocsin_serve(tmp_path, env):
                assert receiver.wait_for(1, timeout=20)
                # Settled: every ledger entry has its final state, so nothing is left to send.
                deliveries = client[database].deliveries
                wait_for(lambda: not deliveries.count_documents({"state": {"$in": ["pending", "sending"]}}),
                         timeout=20, message="ledger entries still open")
                assert deliveries.count_documents({}) == deliveries.count_documents({"state": "sent"}) == 1
            assert receiver.count == 1
            assert client[database].alert_events.count_documents({}) == 1
        finally:
            client.close()


