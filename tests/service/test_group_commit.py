"""`GroupCommit`: outcomes from many threads written together, kept until written."""

from __future__ import annotations

import threading

from pymongo.errors import AutoReconnect

from service.ledger_store import GroupCommit


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[list[int]] = []
        self.retrying: list[bool] = []
        self.fail_first = fail_first
        self.commit: GroupCommit[int] | None = None

    def write(self, items: list[int]) -> None:
        assert self.commit is not None
        self.retrying.append(self.commit.retrying)
        if self.fail_first:
            self.fail_first -= 1
            raise AutoReconnect("database away")
        self.batches.append(list(items))


def test_a_short_batch_lingers_for_the_items_that_follow():
    rec = Recorder()
    rec.commit = GroupCommit(rec.write, wait_seconds=0.0, linger_seconds=5.0, max_batch=10)
    for i in range(10):  # the tenth fills the batch: written at once, not after 5 s
        rec.commit.add(i)
    assert rec.commit.close(timeout=2.0)
    assert rec.batches == [list(range(10))]


def test_without_linger_each_item_can_go_alone():
    rec = Recorder()
    rec.commit = GroupCommit(rec.write, wait_seconds=5.0, max_batch=10)
    assert rec.commit.add(1)  # waits until written: nothing else was queued
    assert rec.batches == [[1]]
    rec.commit.close()


def test_a_batch_the_database_did_not_take_is_written_again_and_said_to_be_a_retry():
    rec = Recorder(fail_first=2)
    rec.commit = GroupCommit(rec.write, wait_seconds=0.0, linger_seconds=0.01)
    rec.commit.add(7)
    assert rec.commit.close(timeout=10.0)
    assert rec.batches == [[7]]
    assert rec.retrying == [False, True, True]
    assert rec.commit.retrying is False  # the next batch is a first write again


class SlowDatabase:
    """A write that waits for `gate` (the database is slow), on a clock the test moves."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.now = 0.0
        self.batches: list[list[int]] = []

    def write(self, items: list[int]) -> None:
        assert self.gate.wait(10.0)
        self.batches.append(list(items))


def test_with_a_lag_bound_a_caller_waits_while_the_oldest_item_is_older_than_it():
    """`tocsin worker`: sending may run a third of a lease ahead of recording, not more."""
    db = SlowDatabase()
    commit: GroupCommit[int] = GroupCommit(db.write, wait_seconds=0.0, max_lag_seconds=30.0, clock=lambda: db.now)
    commit.add(1)  # returns at once: nothing queued is old
    db.now = 31.0  # item 1 has waited longer than the bound
    second = threading.Thread(target=commit.add, args=(2,))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # held: the database has not caught up
    assert commit.lag == 31.0
    db.gate.set()
    second.join(10.0)
    assert not second.is_alive()  # released once item 1 is written
    assert commit.close(timeout=5.0)
    assert [i for batch in db.batches for i in batch] == [1, 2]


def test_without_a_lag_bound_callers_never_wait():
    db = SlowDatabase()
    commit: GroupCommit[int] = GroupCommit(db.write, wait_seconds=0.0, clock=lambda: db.now)
    commit.add(1)
    db.now = 1000.0
    commit.add(2)  # returns although item 1 waits
    assert commit.backlog == 2 and commit.lag == 1000.0
    db.gate.set()
    assert commit.close(timeout=5.0)
