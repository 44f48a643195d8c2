"""The outbox sweeper re-queues what was never queued, and nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from delivery.outbox import MemoryOutboxStore, sweep
from tests.delivery.support import PagerDutyChannel, WebhookChannel, one_request

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)


def test_sweep_queues_old_unqueued_alert_events_once():
    store = MemoryOutboxStore()
    a = [one_request(WebhookChannel("ops", url="http://x")), one_request(PagerDutyChannel("pd", routing_key="k"))]
    b = [one_request(WebhookChannel("ops", url="http://x"), kind="resolved")]
    store.add("ae-a", a, stored_at=NOW - timedelta(minutes=5))
    store.add("ae-b", b, stored_at=NOW - timedelta(seconds=5))  # may still be queued by its writer
    queued = []
    assert sweep(store, queued.append, older_than=timedelta(seconds=30), now=NOW) == 2
    assert queued == a
    assert sweep(store, queued.append, older_than=timedelta(seconds=30), now=NOW) == 0
    assert sweep(store, queued.append, older_than=timedelta(seconds=1), now=NOW) == 1
    assert store.queued == {"ae-a", "ae-b"}


def test_broker_down_leaves_it_for_the_next_sweep():
    store = MemoryOutboxStore()
    store.add("ae-a", [one_request(WebhookChannel("ops", url="http://x"))], stored_at=NOW - timedelta(hours=1))

    def down(request):
        raise ConnectionError("broker down")

    assert sweep(store, down, now=NOW) == 0
    assert store.queued == set()
    assert sweep(store, lambda r: None, now=NOW) == 1
