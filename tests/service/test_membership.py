"""Membership: heartbeats, one partition count for every replica, shares from the leases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import jsonschema_rs
import pytest

from service.app import create_app
from service.db import Database
from service.lease import Lease
from service.membership import CLUSTER, Membership, PartitionCountMismatch, read_view
from tests.service.conftest import make_config
from tests.service.server import running
from tests.service.test_evaluator import wait_until

LEASE = 10.0


@pytest.fixture
async def db(mongo_uri) -> AsyncIterator[Database]:
    database = Database.connect(mongo_uri, f"t_{uuid.uuid4().hex[:12]}")
    yield database
    await database.close()


def member(db: Database, replica: str, count: int = 4) -> Membership:
    return Membership(db.db["members"], db.checkpoints, replica, count=count, lease_seconds=LEASE)


def mine(m: Membership) -> list[int]:
    return [i for i in range(m.count) if m.wants(i)]


async def test_replicas_share_the_partitions_and_a_leaver_gives_its_share_back(db):
    a, b, c = member(db, "a"), member(db, "b"), member(db, "c")
    await a.join()
    assert mine(a) == [0, 1, 2, 3]
    await b.join()
    await a.heartbeat()
    assert sorted(mine(a) + mine(b)) == [0, 1, 2, 3] and len(mine(a)) == len(mine(b)) == 2
    await c.join()
    for m in (a, b):
        await m.heartbeat()
    assert sorted(mine(a) + mine(b) + mine(c)) == [0, 1, 2, 3] and max(map(len, (mine(a), mine(b), mine(c)))) == 2
    await c.leave()
    for m in (a, b):
        await m.heartbeat()
    assert sorted(mine(a) + mine(b)) == [0, 1, 2, 3] and len(mine(a)) == len(mine(b)) == 2


async def test_held_leases_stay_with_their_owner_and_a_silent_replica_drops_out(db):
    a, b = member(db, "a"), member(db, "b")
    for index in (1, 2, 3):  # b holds three partitions (it was alone), a joins
        assert await Lease(db.checkpoints, LEASE, partition=f"evaluator:{index}/4", owner="b").acquire()
    await b.join()
    await a.join()
    await b.heartbeat()
    assert mine(b) == [1, 2] and mine(a) == [0, 3]  # b keeps its lowest two, hands 3 over
    # b falls silent: after a lease period it is no longer live, and a takes everything.
    old = datetime.now(timezone.utc) - timedelta(seconds=LEASE + 1)
    await db.db["members"].update_one({"_id": "b"}, {"$set": {"heartbeat_at": old}})
    await db.checkpoints.update_many({"owner": "b"}, {"$set": {"expires_at": old}})
    assert await a.heartbeat() is True
    assert mine(a) == [0, 1, 2, 3]
    view = await read_view(db.db["members"], db.checkpoints, LEASE, 4)
    assert [m.id for m in view.members] == ["a"] and set(view.owners.values()) == {None}


async def test_another_partition_count_is_refused_while_a_replica_with_the_stored_one_is_live(db):
    await member(db, "a", count=4).join()
    with pytest.raises(PartitionCountMismatch, match=r"TOCSIN_EVALUATOR_PARTITIONS=2, but the running replica\(s\) "
                                                     r"a use 4: every replica must use the same count"):
        await member(db, "b", count=2).join()
    assert await db.db["members"].find_one({"_id": "b"}) is None  # refused before registering
    assert (await db.db["members"].find_one({"_id": CLUSTER}))["partitions"] == 4


async def test_the_count_changes_once_no_replica_with_the_old_one_is_live(db):
    a = member(db, "a", count=4)
    await a.join()
    await a.leave()  # every replica stopped
    b = member(db, "b", count=2)
    await b.join()
    assert (await db.db["members"].find_one({"_id": CLUSTER}))["partitions"] == 2
    assert mine(b) == [0, 1]


async def test_of_two_replicas_started_together_with_different_counts_the_later_refuses(db):
    first, later = member(db, "a", count=4), member(db, "b", count=2)
    later.started_at = first.started_at + timedelta(milliseconds=1)
    read = later._read
    reads = 0

    async def racing_read(now=None):
        nonlocal reads
        view = await read(now)
        reads += 1
        if reads == 1:
            await first._beat(first.started_at)  # registers just after `later` looked
        return view

    later._read = racing_read
    with pytest.raises(PartitionCountMismatch, match="a use 4"):
        await later.join()
    assert reads == 2  # refused by the check after registering, and registered no more
    assert await db.db["members"].find_one({"_id": "b"}) is None


async def test_the_view_shows_each_replicas_partitions(db):
    a, b = member(db, "a"), member(db, "b")
    await a.join()
    await b.join()
    for index in (0, 1):
        assert await Lease(db.checkpoints, LEASE, partition=f"evaluator:{index}/4", owner="a").acquire()
    assert await Lease(db.checkpoints, LEASE, partition="evaluator:3/4", owner="b").acquire()
    view = (await read_view(db.db["members"], db.checkpoints, LEASE, 4)).to_dict()
    assert view["partitions"] == 4
    assert [(r["id"], r["partitions"]) for r in view["replicas"]] == [("a", [0, 1]), ("b", [3])]
    assert all(r["heartbeat_at"] >= r["started_at"] for r in view["replicas"])


async def test_get_cluster_shows_this_replica_with_every_partition_and_matches_the_document(mongo_uri, tmp_path):
    config = make_config(mongo_uri, tmp_path, evaluator=True, evaluator_partitions=3, lease_seconds=2.0)
    async with running(create_app(config)) as client:
        async def all_held() -> bool:
            replicas = (await client.get("/v1/cluster")).json()["replicas"]
            return len(replicas) == 1 and replicas[0]["partitions"] == [0, 1, 2]

        await wait_until(all_held)
        r = await client.get("/v1/cluster")
        document = (await client.get("/openapi.json")).json()
    body = r.json()
    assert r.status_code == 200 and body["partitions"] == 3
    assert body["replicas"][0]["id"].split(":")[1].isdigit()  # host:pid:random
    answer = "#/paths/~1v1~1cluster/get/responses/200/content/application~1json/schema"
    jsonschema_rs.Draft202012Validator({**document, "$ref": answer}).validate(body)
