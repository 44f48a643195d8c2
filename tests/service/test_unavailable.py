"""Honest answers when a dependency is away: 503 with Retry-After, never 500 or a false 202;
`/readyz` answers within its second even when a check hangs."""

from __future__ import annotations

import asyncio
import time

import httpx
from pymongo import MongoClient

from service.app import create_app
from tests.service.conftest import make_config
from tests.service.server import running
from tests.support.processes import RedisProcess, SecantusProcess


def _event(event_id: str) -> dict:
    return {"id": event_id, "type": "execution.started", "instance": {"id": "i1"}, "execution": {"id": event_id}}


async def _timed_get(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.get(path)
    return response, time.monotonic() - started


async def _wait_ready(client: httpx.AsyncClient, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (await client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "/readyz did not recover"
        await asyncio.sleep(0.05)


async def test_events_answer_503_while_the_database_is_down_and_202_once_back(tmp_path):
    with SecantusProcess(tmp_path / "db", log_dir=tmp_path) as db:
        config = make_config(db.uri, tmp_path)
        async with running(create_app(config)) as client:
            assert (await client.post("/v1/events", json=_event("before"))).status_code == 202

            await asyncio.to_thread(db.kill9)
            r = await client.post("/v1/events", json=[_event("during-1"), _event("during-2")])
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5"
            assert r.headers["content-type"].startswith("application/problem+json")
            body = r.json()
            assert body["status"] == 503 and "database" in body["detail"]
            assert "Traceback" not in r.text

            ready, elapsed = await _timed_get(client, "/readyz")
            assert ready.status_code == 503 and "database" in ready.json()["detail"]
            assert elapsed < 2.0

            await asyncio.to_thread(db.restart)
            r = await client.post("/v1/events", json=[_event("during-1"), _event("during-2")])
            assert r.status_code == 202, r.text
            assert r.json()["accepted"] == 2  # the refused attempt stored nothing
            await _wait_ready(client, timeout=10)

        stored = MongoClient(db.uri)
        try:
            ids = {d["_id"] for d in stored[config.mongodb_database].events.find({}, {"_id": 1})}
        finally:
            stored.close()
        assert ids == {"before", "during-1", "during-2"}


async def test_readyz_answers_within_a_second_while_the_broker_hangs(mongo_uri, tmp_path):
    with RedisProcess() as broker:
        async with running(create_app(make_config(mongo_uri, tmp_path, redis_url=broker.url))) as client:
            assert (await client.get("/readyz")).status_code == 200
            broker.freeze()
            try:
                # Twice: the second probe finds the first one's ping still stuck.
                for _ in range(2):
                    ready, elapsed = await _timed_get(client, "/readyz")
                    assert ready.status_code == 503
                    assert "broker" in ready.json()["detail"] and "database" not in ready.json()["detail"]
                    assert elapsed < 2.0
            finally:
                broker.thaw()
            await _wait_ready(client, timeout=10)
