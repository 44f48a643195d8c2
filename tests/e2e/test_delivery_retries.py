"""Issue 8, scenarios 4 and 7: retries live in the ledger. A failing or hanging receiver
is retried with its attempts recorded, and a retry pending when the embedded service
dies happens on time after its restart."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.ledger_support import Deployment, monotonic_to_wall, requests_by_marker
from tests.support.processes import wait_for

ON_TIME_SECONDS = 1.5  # a retry may start this long after it is due: a few reconcile periods (0.2 s)


def api_deliveries(url: str) -> dict[str, dict[str, Any]]:
    """Every delivery the API shows (`GET /v1/alerts/{id}`), by its alert's instance id."""
    found = {}
    with httpx.Client(timeout=10) as http:
        for alert in http.get(f"{url}/v1/alerts", params={"limit": 100}).json()["items"]:
            detail = http.get(f"{url}/v1/alerts/{alert['id']}").json()
            for alert_event in detail["alert_events"]:
                for delivery in alert_event["deliveries"]:
                    found[alert["key"]["instance"]] = delivery
    return found


def api_quietly(url: str) -> dict[str, dict[str, Any]]:
    try:
        return api_deliveries(url)
    except (httpx.HTTPError, KeyError, ValueError):
        return {}


def parse(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("stop", ["kill9", "terminate"])
def test_embedded_restart_keeps_a_pending_retry(tmp_path, recording_receiver, stop):
    """4: the embedded default (no database URI), a receiver answering 500, the service
    stopped (kill -9, or SIGTERM) during the backoff and started again: the retry comes
    when it was due, not lost, and the ledger shows both attempts and `sent`."""
    receiver = recording_receiver
    receiver.fail_until(time.monotonic() + 3600)
    # A first retry 4-8 s after the 500: longer than stopping and restarting the service,
    # so "on time" means at next_attempt_at, not merely after the restart.
    with Deployment(tmp_path, receiver, env={"TOCSIN_DELIVERY_RETRY_BASE": "8"}) as d:
        markers = d.post_failures(3)
        url = d.service.url

        def first_attempts_recorded() -> bool:
            entries = api_quietly(url)
            return all(m in entries and entries[m]["state"] == "pending" and len(entries[m]["attempts"]) == 1
                       for m in markers)

        wait_for(first_attempts_recorded, timeout=20, message=lambda: f"{api_quietly(url)}\n{d.explain()}")
        before = api_deliveries(url)
        # The embedded database does not fsync a ledger outcome by itself; the next synced
        # write (any accepted event) flushes the journal past it (docs: embedded database).
        # A crash in between loses the attempt record, so the entry is sent again at once
        # under the same key: the documented trade-off, not what this scenario is about.
        d.post([{"id": "unrelated", "type": "execution.started", "instance": {"id": "unrelated"},
                 "execution": {"id": "unrelated"}}])
        getattr(d.service, stop)()
        receiver.ok()
        d.service.start()
        restarted_at = time.time()

        wait_for(lambda: all(api_quietly(url).get(m, {}).get("state") == "sent" for m in markers), timeout=30,
                 message=lambda: f"{api_quietly(url)}\n{d.explain()}")
        after = api_deliveries(url)
        requests = requests_by_marker(receiver)
        for m in markers:
            first, retry = before[m], after[m]
            assert [a["status"] for a in retry["attempts"]] == [500, 200], retry
            assert [a["outcome"] for a in retry["attempts"]] == ["retry", "ok"], retry
            assert retry["attempts"][0] == first["attempts"][0]
            assert retry["next_attempt_at"] is None and retry["claimed_by"] is None
            sent = requests[m]
            assert [r.status for r in sent] == [500, 200], sent
            assert {r.idempotency_key for r in sent} == {retry["id"]}
            due, retried = parse(first["next_attempt_at"]), monotonic_to_wall(sent[1].at)
            # Due after the restart, normally (see the retry base); if a slow restart outlasted
            # the backoff, the retry is owed as soon as the service is back.
            assert due - 0.05 <= retried <= max(due, restarted_at) + ON_TIME_SECONDS, \
                f"{m}: retried {retried - due:+.2f}s from when it was due ({restarted_at - due:+.2f}s: restarted)"
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'tocsin_deliveries{state="pending"} 0.0' in metrics
        assert 'tocsin_deliveries{state="sending"} 0.0' in metrics


def test_receiver_failing_then_recovering(tmp_path, secantus_process, recording_receiver):
    """7: a receiver answering 500 for ~5 s (the issue says 30 s; with a 0.3 s retry base
    the backoff reaches 5 s within four retries, which exercises the same schedule in a
    sixth of the time), then 200: delivered once it recovers, every attempt recorded."""
    receiver = recording_receiver
    receiver.fail_until(time.monotonic() + 5.0)
    with Deployment(tmp_path, receiver, db=secantus_process) as d:
        markers = d.post_failures(5)
        entries = d.check(markers)
        requests = requests_by_marker(receiver)
        for m in markers:
            attempts = entries[m]["attempts"]
            assert len(attempts) >= 2 and len(attempts) == len(requests[m]), (attempts, requests[m])
            assert [a["status"] for a in attempts] == [r.status for r in requests[m]]
            assert all(a["status"] == 500 and a["outcome"] == "retry" and a["retry_in_ms"] > 0 for a in attempts[:-1])
            assert attempts[-1]["status"] == 200 and attempts[-1]["outcome"] == "ok"
            waits = [a["retry_in_ms"] for a in attempts[:-1]]
            assert waits == sorted(waits), f"the backoff should grow: {waits}"


def test_receiver_hanging_past_the_channel_timeout(tmp_path, secantus_process, recording_receiver):
    """7: a receiver that never answers: the attempt ends at the channel's 1 s timeout, is
    recorded as a timeout and retried; once the receiver answers, the entry is sent."""
    receiver = recording_receiver
    receiver.hang()
    with Deployment(tmp_path, receiver, db=secantus_process) as d:
        markers = d.post_failures(3)

        def timed_out_once() -> bool:
            entries = d.ledger.by_marker()
            return all(m in entries and entries[m]["attempts"] for m in markers)

        wait_for(timed_out_once, timeout=20, message=d.explain)
        receiver.ok()
        entries = d.check(markers)
        for m in markers:
            attempts = entries[m]["attempts"]
            first = attempts[0]
            assert first["status"] is None and first["outcome"] == "retry", first
            assert "timeout" in (first["error"] or "").lower() or "timed out" in (first["error"] or "").lower(), first
            assert 900 <= first["latency_ms"] < 3000, f"the 1 s channel timeout was not applied: {first}"
            assert attempts[-1]["status"] == 200 and attempts[-1]["outcome"] == "ok"
