"""`service.ledger_store.MongoLedger` follows `delivery.ledger`'s rules, on a real SecantusDB.

The same claims and records as test_ledger.py's `MemoryLedger` tests, through MongoDB
queries (`claim_filters`, `outcome_filter`), plus what only the database does: outcomes
group-committed, `notification.*` events stored in `events` with a `seq`.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from pymongo import MongoClient

from delivery.ledger import CLAIM_SLACK, FAILED, PENDING, SENDING, SENT, new_entry
from service.ledger_store import MongoLedger
from tests.delivery.support import WebhookChannel, one_request
from tests.delivery.test_ledger import LEASE, T0, _outcome, _request


@pytest.fixture
def ledger(mongo_uri):
    ledger = MongoLedger(mongo_uri, f"ledger_{uuid.uuid4().hex[:12]}")
    yield ledger
    settle(ledger)
    ledger.client.drop_database(ledger.db.name)
    ledger.close()


def settle(ledger: MongoLedger, timeout: float = 10.0) -> None:
    """Wait until every outcome handed to `record()` is written (it does not wait)."""
    deadline = time.monotonic() + timeout
    while ledger.commit.backlog and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ledger.commit.backlog == 0, "outcomes not written"


def _add(ledger: MongoLedger, *requests, wake_grace: float = 10.0) -> None:
    ledger.db.deliveries.insert_many([new_entry(r, T0, wake_grace=wake_grace) for r in requests])


def _entry(ledger: MongoLedger, delivery_id: str) -> dict:
    return ledger.db.deliveries.find_one({"_id": delivery_id})


def _events(ledger: MongoLedger) -> list[dict]:
    return list(ledger.db.events.find().sort("seq", 1))


def _reclaimed(ledger: MongoLedger, request):
    stale = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    later = stale.lease_until + timedelta(seconds=1)
    fresh = ledger.claim(request.id, now=later, lease=LEASE, token="b")
    assert fresh is not None
    return stale, fresh, later


def test_a_fresh_entry_is_claimable_once_then_after_its_lease(ledger):
    request = _request()
    _add(ledger, request)
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    assert claim is not None and (claim.id, claim.attempt, claim.first_attempt_at) == (request.id, 1, None)
    assert claim.request == request
    entry = _entry(ledger, request.id)
    assert entry["state"] == SENDING and entry["claimed_by"] == "a"
    assert entry["lease_until"] == entry["due_at"] == claim.lease_until

    assert ledger.claim(request.id, now=T0, lease=LEASE, token="b") is None
    assert ledger.claim(request.id, now=claim.lease_until, lease=LEASE, token="b") is None
    again = ledger.claim(request.id, now=claim.lease_until + timedelta(milliseconds=1), lease=LEASE, token="b")
    assert again is not None and again.attempt == 1 and again.id == request.id
    assert _entry(ledger, request.id)["claimed_by"] == "b"
    assert ledger.claim("dlv-unknown", now=T0, lease=LEASE, token="c") is None


def _failed_once(ledger: MongoLedger, request):
    """`request`'s entry after attempt 1 (claimed by "a" at T0) failed: a retry at T0 + 20 s."""
    _add(ledger, request)
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    retry_at = T0 + timedelta(seconds=20)
    ledger.record(_outcome(claim, PENDING, next_attempt_at=retry_at))
    settle(ledger)
    return claim, retry_at


def test_a_retry_is_claimable_when_due_and_counts_its_attempt(ledger):
    request = _request()
    claim, retry_at = _failed_once(ledger, request)
    entry = _entry(ledger, request.id)
    assert entry["state"] == PENDING and entry["due_at"] == entry["next_attempt_at"] == retry_at
    assert entry["claimed_by"] is None and entry["lease_until"] is None
    assert entry["first_attempt_at"] == T0

    early = retry_at - CLAIM_SLACK - timedelta(milliseconds=1)
    assert ledger.claim(request.id, now=early, lease=LEASE, token="b") is None
    second = ledger.claim(request.id, now=retry_at - CLAIM_SLACK, lease=LEASE, token="b")
    assert second is not None and second.attempt == 2 and second.first_attempt_at == T0
    assert second.id == claim.id


def test_a_final_outcome_is_written_with_its_event(ledger):
    sent, failed = _request(n=1), _request(n=2)
    _add(ledger, sent, failed)
    ledger.record(_outcome(ledger.claim(sent.id, now=T0, lease=LEASE, token="a"), SENT))
    ledger.record(_outcome(ledger.claim(failed.id, now=T0, lease=LEASE, token="a"), FAILED))
    settle(ledger)
    for request, state in ((sent, SENT), (failed, FAILED)):
        entry = _entry(ledger, request.id)
        assert entry["state"] == state and "due_at" not in entry and entry["claimed_by"] is None
        assert [a["attempt"] for a in entry["attempts"]] == [1]
        assert ledger.claim(request.id, now=T0 + timedelta(days=1), lease=LEASE, token="b") is None
    stored = _events(ledger)
    assert sorted(d["event"]["type"] for d in stored) == ["notification.failed", "notification.sent"]
    assert sorted(d["seq"] for d in stored) == [1, 2]
    assert {d["event"]["data"]["delivery_id"] for d in stored} == {sent.id, failed.id}


def test_a_stale_claimant_cannot_overwrite_the_new_claim(ledger):
    request = _request()
    _add(ledger, request)
    stale, fresh, later = _reclaimed(ledger, request)
    ledger.record(_outcome(stale, PENDING, next_attempt_at=later + timedelta(seconds=5)))
    ledger.record(_outcome(stale, FAILED))
    settle(ledger)
    entry = _entry(ledger, request.id)
    assert entry["state"] == SENDING and entry["claimed_by"] == "b" and entry["attempts"] == []
    ledger.record(_outcome(fresh, PENDING, at=later, next_attempt_at=later + timedelta(seconds=3)))
    settle(ledger)
    entry = _entry(ledger, request.id)
    assert entry["state"] == PENDING and entry["due_at"] == later + timedelta(seconds=3)
    assert len(entry["attempts"]) == 1


def test_a_stale_claimants_late_success_counts_once(ledger):
    request = _request()
    _add(ledger, request)
    stale, fresh, later = _reclaimed(ledger, request)
    ledger.record(_outcome(stale, SENT))
    settle(ledger)
    entry = _entry(ledger, request.id)
    assert entry["state"] == SENT and entry["claimed_by"] is None and len(entry["attempts"]) == 1
    ledger.record(_outcome(fresh, FAILED, at=later))
    ledger.record(_outcome(fresh, PENDING, at=later, next_attempt_at=later + timedelta(seconds=1)))
    settle(ledger)
    entry = _entry(ledger, request.id)
    assert entry["state"] == SENT and len(entry["attempts"]) == 1


# --- defects of MongoLedger._write (events stored for outcomes that did not count) ---------


def test_a_stale_claimants_failure_emits_no_notification_failed(ledger):
    request = _request()
    _add(ledger, request)
    stale, fresh, later = _reclaimed(ledger, request)
    ledger.record(_outcome(stale, FAILED))
    ledger.record(_outcome(fresh, SENT, at=later))
    settle(ledger)
    assert _entry(ledger, request.id)["state"] == SENT
    assert [d["event"]["type"] for d in _events(ledger)] == ["notification.sent"]


def test_a_repeated_success_is_announced_once_and_leaves_no_hole_in_the_event_sequence(ledger):
    request = _request()
    _add(ledger, request)
    stale, fresh, later = _reclaimed(ledger, request)
    ledger.record(_outcome(fresh, SENT, at=later))
    settle(ledger)
    ledger.record(_outcome(stale, SENT))  # the expired claimant's send went through too
    settle(ledger)
    stored = _events(ledger)
    assert [d["event"]["type"] for d in stored if not d.get("filler")] == ["notification.sent"]
    counter = ledger.db.counters.find_one({"_id": "events"})
    # every number handed out has its document: the event, or a filler the evaluator skips
    assert [d["seq"] for d in stored] == list(range(1, counter["n"] + 1))


def test_closing_the_ledger_writes_the_outcomes_already_recorded(mongo_uri):
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    ledger = MongoLedger(mongo_uri, name)
    request = _request()
    _add(ledger, request)
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    write = ledger.commit.write

    def slow_write(batch):  # the database takes 200 ms to answer this batch
        time.sleep(0.2)
        write(batch)

    ledger.commit.write = slow_write
    ledger.record(_outcome(claim, SENT))
    ledger.close()  # as DeliveryBridge.stop does once the workers have stopped
    check = MongoClient(mongo_uri)
    try:  # close() returned: the outcome is written already (no waiting here)
        assert check[name].deliveries.find_one({"_id": request.id})["state"] == SENT
    finally:
        # let the flusher thread finish on a live client, so it does not retry forever
        ledger.client, ledger.db = check, check[name]
        ledger.commit.write = write
        settle(ledger)
        check.drop_database(name)
        check.close()


async def test_the_oldest_open_entry_is_found_through_due_at(ledger, mongo_uri):
    """`oldest_pending_age` reads open entries through the `due_at` index: a sent entry,
    however old, does not count; a pending one and a claimed one do."""
    from pymongo import AsyncMongoClient

    from service.ledger_store import oldest_pending_age

    old_sent, to_claim, waiting = (_request(n=n) for n in (1, 2, 3))
    ledger.db.deliveries.insert_many([new_entry(old_sent, T0 - timedelta(hours=5), wake_grace=10.0),
                                      new_entry(to_claim, T0 - timedelta(minutes=3), wake_grace=10.0),
                                      new_entry(waiting, T0 - timedelta(minutes=1), wake_grace=10.0)])
    client = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = client[ledger.db.name]
    try:
        assert await oldest_pending_age(db, T0) == 5 * 3600  # all three still open
        first = ledger.claim(old_sent.id, now=T0, lease=LEASE, token="a")
        ledger.record(_outcome(first, SENT))
        settle(ledger)
        assert await oldest_pending_age(db, T0) == 180
        assert ledger.claim(to_claim.id, now=T0, lease=LEASE, token="b") is not None  # sending: still open
        assert await oldest_pending_age(db, T0) == 180
        assert await oldest_pending_age(db, T0, scan_limit=1) == 60  # due first: the waiting one
    finally:
        await client.close()


def test_an_entry_whose_outcome_is_not_yet_written_is_not_claimed_again_here(ledger):
    """The outcome waits in the group commit (a storm, the database away) while the
    lease runs out in the database: this process knows the entry was sent."""
    request = _request()
    _add(ledger, request)
    first = ledger.claim(request.id, now=T0, lease=LEASE, token="a")
    gate, write = threading.Event(), ledger.commit.write
    ledger.commit.write = lambda outcomes: (gate.wait(10), write(outcomes))  # the database is slow
    ledger.record(_outcome(first, SENT))
    after_lease = first.lease_until + timedelta(seconds=1)
    assert _entry(ledger, request.id)["state"] == SENDING  # its lease has run out in the database
    assert ledger.claim(request.id, now=after_lease, lease=LEASE, token="b") is None
    gate.set()
    settle(ledger)
    assert _entry(ledger, request.id)["state"] == SENT
    assert ledger.claim(request.id, now=after_lease, lease=LEASE, token="b") is None  # sent: not claimable


def test_a_claim_for_a_slow_channel_is_extended_before_anything_is_sent(ledger):
    slow = one_request(WebhookChannel("slow", url="http://127.0.0.1:9/hook", timeout=20.0), id="ae-slow")
    _add(ledger, slow)
    claim = ledger.claim(slow.id, now=T0, lease=LEASE, token="a")
    assert claim.lease_until == T0 + timedelta(seconds=60)
    stored = _entry(ledger, slow.id)
    assert stored["lease_until"] == stored["due_at"] == T0 + timedelta(seconds=60)
    assert ledger.claim(slow.id, now=T0 + timedelta(seconds=LEASE + 1), lease=LEASE, token="b") is None


def test_a_success_is_announced_before_its_outcome_is_written(ledger, monkeypatch):
    """Killed between the two writes, a success keeps its `notification.sent` (the entry,
    still `sending`, is sent again under the same key once its lease runs out)."""
    from pymongo.collection import Collection

    request = _request()
    _add(ledger, request)
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a")

    class Killed(Exception):
        pass

    def killed(*args, **kwargs):
        raise Killed("the process died here")

    with monkeypatch.context() as m:
        m.setattr(Collection, "bulk_write", killed)  # the outcome's write never happens
        with pytest.raises(Killed):
            ledger._write([_outcome(claim, SENT)])
    assert [d["event"]["type"] for d in _events(ledger)] == ["notification.sent"]
    assert _entry(ledger, request.id)["state"] == SENDING


def test_a_claim_that_ran_out_in_the_queue_is_renewed_if_still_ours(ledger):
    """A birth claim whose lease ran out while it waited for a local worker: one
    conditional update renews it, unless another worker took the entry meanwhile."""
    mine, taken = _request(n=1), _request(n=2)
    _add(ledger, mine, taken)
    a = ledger.claim(mine.id, now=T0, lease=LEASE, token="a")
    b = ledger.claim(taken.id, now=T0, lease=LEASE, token="a")
    later = T0 + timedelta(seconds=LEASE + 5)
    assert ledger.claim(taken.id, now=later, lease=LEASE, token="other") is not None  # taken over
    renewed = ledger.renew(a, now=later, lease=LEASE)
    assert renewed is not None and renewed.lease_until == later + timedelta(seconds=LEASE)
    assert _entry(ledger, mine.id)["due_at"] == renewed.lease_until
    assert ledger.renew(b, now=later, lease=LEASE) is None


class CountingCommands:
    """The `deliveries` commands a claim issues (a wrapper around the real collection)."""

    def __init__(self, collection):
        self.collection, self.calls = collection, []

    def __getattr__(self, name):
        attr = getattr(self.collection, name)
        if name in ("update_one", "find_one", "find_one_and_update"):
            def counted(*args, **kwargs):
                self.calls.append(name)
                return attr(*args, **kwargs)
            return counted
        return attr


def test_a_fresh_entry_whose_wake_up_carried_its_request_is_claimed_with_one_update(ledger, monkeypatch):
    request = _request()
    _add(ledger, request)
    counting = CountingCommands(ledger.db.deliveries)
    monkeypatch.setattr(ledger, "db", type("Db", (), {"deliveries": counting, "events": ledger.db.events})())
    claim = ledger.claim(request.id, now=T0, lease=LEASE, token="a", request=request)
    assert counting.calls == ["update_one"]  # no read: the wake-up brought the request
    assert claim is not None and (claim.request, claim.attempt, claim.first_attempt_at) == (request, 1, None)
    monkeypatch.undo()
    entry = _entry(ledger, request.id)
    assert entry["state"] == SENDING and entry["claimed_by"] == "a"
    assert entry["lease_until"] == entry["due_at"] == claim.lease_until
    # A second copy of the same wake-up (a broker's redelivery) claims nothing while the lease holds.
    assert ledger.claim(request.id, now=T0, lease=LEASE, token="b", request=request) is None


def test_a_carried_request_of_an_entry_already_attempted_falls_back_to_reading_the_entry(ledger):
    """A retry is due: the request a late wake-up carried is attempt 1's, so the claim
    reads the entry and counts its attempts as any claim does."""
    request = _request()
    _, retry_at = _failed_once(ledger, request)
    second = ledger.claim(request.id, now=retry_at, lease=LEASE, token="b", request=request)
    assert second is not None and second.attempt == 2 and second.first_attempt_at == T0


def test_a_carried_request_gets_the_longer_lease_of_a_slow_channel_in_its_one_update(ledger):
    slow = one_request(WebhookChannel("slow", url="http://127.0.0.1:9/hook", timeout=20.0), id="ae-slow-carried")
    _add(ledger, slow)
    claim = ledger.claim(slow.id, now=T0, lease=LEASE, token="a", request=slow)
    assert claim.lease_until == T0 + timedelta(seconds=60) == _entry(ledger, slow.id)["lease_until"]


async def test_the_due_index_holds_open_entries_only_and_an_older_one_is_replaced(mongo_uri):
    """`due_at` is sparse and a final outcome unsets the field: the reconciler's look at
    due entries walks the open entries, not the sent history (on the embedded database
    an index of nulls cost it 1.1 s a look with 20,000 sent entries). An index from an
    earlier version (not sparse, final entries with `due_at: null`) is replaced."""
    from service.db import Database
    from service.ledger_store import due_entries

    db = Database.connect(mongo_uri, f"due_{uuid.uuid4().hex[:12]}")
    sent, due, later = (_request(n=n) for n in (1, 2, 3))
    try:
        await db.deliveries.create_index("due_at", name="due_at")  # as an earlier version made it
        old = new_entry(sent, T0, wake_grace=10.0) | {"state": SENT, "due_at": None}
        await db.deliveries.insert_many([old, new_entry(due, T0, wake_grace=10.0),
                                         new_entry(later, T0 + timedelta(hours=1), wake_grace=10.0)])
        await db.ensure_indexes(timedelta(days=1))
        await db.ensure_indexes(timedelta(days=1))  # a second start (or replica) changes nothing
        assert (await db.deliveries.index_information())["due_at"].get("sparse") is True
        assert "due_at" not in await db.deliveries.find_one({"_id": sent.id})
        assert [d["_id"] for d in await due_entries(db, T0 + timedelta(minutes=1), 100)] == [due.id]
        indexed = [d["_id"] async for d in db.deliveries.find({}, {"_id": 1}).hint("due_at")]
        assert sorted(indexed) == sorted([due.id, later.id])

        ledger = MongoLedger(mongo_uri, db.db.name)
        try:
            ledger.record(_outcome(ledger.claim(due.id, now=T0 + timedelta(minutes=1), lease=LEASE, token="a"), SENT))
            settle(ledger)
        finally:
            ledger.close()
        indexed = [d["_id"] async for d in db.deliveries.find({}, {"_id": 1}).hint("due_at")]
        assert indexed == [later.id]
    finally:
        await db.client.drop_database(db.db.name)
        await db.close()
