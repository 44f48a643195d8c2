"""Evaluator partitions: monitors split by name, one lease each, exactly one firing."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.db import Database
from service.partitions import Partition, assign, fair_share, partitions
from tests.service.conftest import make_config
from tests.service.receiver import Receiver
from tests.service.server import running
from tests.service.test_evaluator import wait_until
from tests.support.waiting import deliveries_settled, evaluated

NAMES = ["a", "b", "g", "d", "i", "f"]


def rules(url: str) -> str:
    monitors = "".join(f'monitor "{n}" when execution.failed where flow == "{n}" notify webhook "hook"\n' for n in NAMES)
    return f'webhook "hook" {{ url "{url}" }}\n{monitors}'


def event(i: int, flow: str) -> dict:
    return {"id": f"e{i}", "type": "execution.failed", "flow": flow, "instance": {"id": f"i{i}"}}


def test_monitors_split_by_name_and_cover_every_partition():
    parts = partitions(3)
    owners = {n: [p.index for p in parts if p.owns(n)] for n in NAMES}
    assert all(len(o) == 1 for o in owners.values())  # each monitor in exactly one
    assert {o[0] for o in owners.values()} == {0, 1, 2}  # these names exercise all three
    assert Partition(0, 1).lease_id == "evaluator:all" and parts[2].lease_id == "evaluator:2/3"


async def test_two_replicas_with_partitions_fire_each_alert_once(mongo_uri, tmp_path):
    first = make_config(mongo_uri, tmp_path, evaluator=True, evaluator_partitions=3)
    db = Database.connect(mongo_uri, first.mongodb_database)
    with Receiver() as receiver:
        (tmp_path / "rules" / "main.rules").write_text(rules(receiver.url))
        apps = create_app(first), create_app(first.model_copy())
        async with running(apps[0]) as a, running(apps[1]) as b:
            await a.post("/v1/events", json=[event(i, n) for i, n in enumerate(NAMES[:3])])
            await b.post("/v1/events", json=[event(i + 3, n) for i, n in enumerate(NAMES[3:])])
            assert await asyncio.to_thread(receiver.wait_for, 6)
            await evaluated(*apps)  # every partition's evaluator had a round after the last event
            await wait_until(lambda: deliveries_settled(db))
            assert await db.deliveries.count_documents({}) == 6
            assert receiver.count == 6
            monitors = sorted(r["body"]["monitor"]["name"] if isinstance(r["body"].get("monitor"), dict)
                              else r["body"].get("monitor") for r in receiver.requests)
            assert len(monitors) == 6
            leases = {d["_id"]: d["owner"] async for d in db.checkpoints.find({})}
            assert set(leases) == {"evaluator:0/3", "evaluator:1/3", "evaluator:2/3"}
            assert all(leases.values())
            alerts = (await a.get("/v1/alerts")).json()["items"]
            assert sorted(x["monitor"] for x in alerts) == sorted(NAMES)
            # An acknowledgement reaches the partition that owns the alert's monitor.
            for alert in alerts:
                r = await b.post(f"/v1/alerts/{alert['id']}/acknowledge", json={"by": "ana"})
                assert r.status_code == 200 and r.json()["acknowledged"] is True
    await db.close()


async def test_a_joining_replica_takes_its_share_and_the_partitions_of_one_that_stopped(mongo_uri, tmp_path):
    # Counted in the outbox, not at a webhook: two apps in one test process share the
    # delivery package's actors, which stop with the first app (one process per replica
    # in production).
    config = make_config(mongo_uri, tmp_path, evaluator=True, evaluator_partitions=2, lease_seconds=1.0)
    (tmp_path / "rules" / "main.rules").write_text(rules("http://127.0.0.1:9/hook"))
    db = Database.connect(mongo_uri, config.mongodb_database)

    async def fired() -> list[str]:
        return sorted([d["monitor"] async for d in db.alert_events.find({"kind": "fired"})])

    async def owners() -> dict[str, str | None]:
        return {d["_id"]: d.get("owner") async for d in db.checkpoints.find({})}

    async def spread(n: int) -> bool:
        held = await owners()
        return len(held) == 2 and None not in held.values() and len(set(held.values())) == n

    async with contextlib.AsyncExitStack() as second, contextlib.AsyncExitStack() as first:
        a = await first.enter_async_context(running(create_app(config)))
        await wait_until(lambda: spread(1))
        alone = set((await owners()).values())
        b_app = create_app(config.model_copy())
        b = await second.enter_async_context(running(b_app))
        await wait_until(lambda: spread(2))  # b took one partition from a, which is still up
        assert alone < set((await owners()).values())
        await a.post("/v1/events", json=[event(0, "a"), event(1, "b")])
        await wait_until(lambda: _count_is(fired, 2))
        await first.aclose()  # a stops and hands its lease over
        await wait_until(lambda: spread(1))
        assert not set((await owners()).values()) & alone  # b holds both
        await b.post("/v1/events", json=[event(i, n) for i, n in enumerate(NAMES)])
        await wait_until(lambda: _count_is(fired, 6))
        await evaluated(b_app)  # both of b's evaluators had a round after the last event
        assert await fired() == sorted(NAMES)  # e0 and e1 were duplicates: stored once, fired once
    await db.close()


async def _count_is(probe, n: int) -> bool:
    return len(await probe()) == n


# -- assignment: live replicas + current owners -> each partition's target owner ----------

member_ids = st.lists(st.sampled_from([f"r{i}" for i in range(8)]), min_size=1, max_size=6, unique=True)


@st.composite
def views(draw):
    """(members, count, current): some partitions held by members, some by gone replicas, some free."""
    members = draw(member_ids)
    count = draw(st.integers(1, 64))
    owners = st.one_of(st.none(), st.sampled_from(members), st.just("gone"))
    current = {i: draw(owners) for i in range(count)}
    return members, count, current


def moved(before: dict[int, str | None], after: dict[int, str]) -> set[int]:
    return {i for i, owner in after.items() if before.get(i) != owner}


@settings(max_examples=300, deadline=None)
@given(views())
def test_assignment_is_fair_complete_and_a_fixed_point(view):
    members, count, current = view
    target = assign(members, count, current)
    assert sorted(target) == list(range(count))  # every partition, once
    assert set(target.values()) <= set(members)
    shares = Counter(target.values())
    assert max(shares.values()) <= fair_share(count, len(members))
    assert min(shares[m] for m in members) >= count // len(members)
    assert assign(reversed(members), count, current) == target  # the order members are listed in does not matter
    assert assign(members, count, target) == target  # handing over as assigned changes nothing


@settings(max_examples=300, deadline=None)
@given(views())
def test_assignment_moves_no_more_than_it_must(view):
    members, count, current = view
    target = assign(members, count, current)
    # A partition moves only if its owner is gone (or none) or over its quota.
    held = Counter(o for o in current.values() if o in members)
    must = sum(1 for o in current.values() if o not in members)
    must += sum(max(0, n - fair_share(count, len(members))) for n in held.values())
    over = sum(max(0, n - count // len(members)) for n in held.values())
    assert must <= len(moved(current, target)) <= must + over


@settings(max_examples=200, deadline=None)
@given(member_ids, st.integers(1, 64), st.sampled_from(["r8", "r9"]))
def test_a_join_moves_only_the_newcomers_share_and_a_leave_only_the_leavers(members, count, newcomer):
    balanced = assign(members, count, {})
    joined = assign([*members, newcomer], count, balanced)
    assert {joined[i] for i in moved(balanced, joined)} <= {newcomer}  # nothing moves between the others
    assert len(moved(balanced, joined)) == Counter(joined.values())[newcomer] <= fair_share(count, len(members) + 1)
    left = assign(members, count, joined)  # the newcomer leaves again
    assert moved(joined, left) == {i for i, o in joined.items() if o == newcomer}


def test_assignment_examples():
    # Alone: everything. A second replica takes the upper half; a third takes from both.
    assert assign(["a"], 4, {}) == {0: "a", 1: "a", 2: "a", 3: "a"}
    two = assign(["a", "b"], 4, {0: "a", 1: "a", 2: "a", 3: "a"})
    assert two == {0: "a", 1: "a", 2: "b", 3: "b"}
    three = assign(["a", "b", "c"], 4, two)
    assert Counter(three.values()) == {"a": 2, "b": 1, "c": 1} and three[0] == three[1] == "a" and three[2] == "b"
    # b dies: its partition goes to c (which is under its share), a keeps its two.
    assert assign(["a", "c"], 4, three) == {0: "a", 1: "a", 2: "c", 3: "c"}
    assert assign([], 4, {}) == {}
    assert assign(["a", "b", "c"], 1, {0: "c"}) == {0: "c"}  # one partition stays put
