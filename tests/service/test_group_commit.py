"""`GroupCommit`: outcomes from many threads written together, kept until written."""

from __future__ import annotations

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
