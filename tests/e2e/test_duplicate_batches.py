"""Issue 8, scenario 6: the same batch posted twice, and by several clients at once (two
on one replica, sharing its group commit, one on another replica), makes one set of
alert events and one notification per event."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from tests.e2e.ledger_support import Deployment, failed_event
from tests.support.processes import new_marker


def test_same_batch_twice_and_by_clients_at_once(tmp_path, secantus_process, recording_receiver):
    receiver = recording_receiver
    with Deployment(tmp_path, receiver, db=secantus_process, replicas=2) as d:
        again = [new_marker() for _ in range(10)]
        batch = [failed_event(m) for m in again]
        assert d.post(batch)["accepted"] == 10
        assert d.post(batch) | {"ids": None} == {"accepted": 0, "duplicates": 10, "ids": None}

        racing = [new_marker() for _ in range(10)]
        batch = [failed_event(m) for m in racing]
        replicas = [d.services[0], d.services[0], d.services[1]]
        start = threading.Barrier(len(replicas))
        answers: list[httpx.Response] = []

        def client(url: str) -> None:
            with httpx.Client(timeout=10) as http:
                start.wait()
                answers.append(http.post(f"{url}/v1/events", json=batch))

        clients = [threading.Thread(target=client, args=(s.url,)) for s in replicas]
        for c in clients:
            c.start()
        for c in clients:
            c.join(30)
        assert [a.status_code for a in answers] == [202] * 3, [a.text for a in answers]
        bodies = [a.json() for a in answers]
        assert sum(b["accepted"] for b in bodies) == 10 and sum(b["duplicates"] for b in bodies) == 20, bodies

        markers = again + racing
        d.check(markers)
        assert d.ledger.count("events", {"event.type": "execution.failed"}) == 20
        assert d.ledger.count("alert_events") == 20
        assert d.ledger.count("deliveries") == 20
        assert Counter(receiver.markers()) == Counter(markers), "a notification sent twice"
