"""`run_worker`: forked Dramatiq worker processes on real Redis, stopped by SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import delivery
from delivery.actors import QUEUE_NAME
from delivery.log import MemoryDeliveryLog
from delivery.worker import redis_broker
from tests.delivery.support import WebhookChannel, one_request

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import sys\n"
    "from delivery.log import MemoryDeliveryLog\n"
    "from delivery.worker import run_worker\n"
    "sys.exit(run_worker(sys.argv[1], MemoryDeliveryLog, processes=2, threads=4))\n"
)


def test_two_worker_processes_deliver_and_stop_on_sigterm(redis_url, receiver):
    broker = redis_broker(redis_url)
    broker.flush_all()
    delivery.setup(broker, MemoryDeliveryLog())
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, redis_url], cwd=ROOT)
    try:
        requests = [one_request(WebhookChannel("ops", url=receiver.url), id=f"ae-{i}")
                    for i in range(20)]
        for request in requests:
            delivery.enqueue(request)
        got = receiver.wait_for(20, timeout=30)
        assert sorted(r.headers["idempotency-key"] for r in got) == sorted(r.id for r in requests)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        broker.flush(QUEUE_NAME)
        broker.close()
    assert code == 0
