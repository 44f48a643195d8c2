"""POST /v1/events: acceptance, duplicates, and every kind of bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

PROBLEM = "application/problem+json"


def event(i: int | str = 1, **extra) -> dict:
    return {"id": f"ev-{i}", "type": "execution.failed", "flow": "Sync", **extra}


async def stored_count(app) -> int:
    return await app.ctx.db.events.count_documents({})


async def test_single_event_is_stored_and_acknowledged(client, app):
    r = await client.post("/v1/events", json=event(1, time="2026-01-02T03:04:05Z"))
    assert r.status_code == 202
    assert r.json() == {"accepted": 1, "duplicates": 0, "ids": ["ev-1"]}
    doc = await app.ctx.db.events.find_one({"_id": "ev-1"})
    assert doc["event"]["time"] == "2026-01-02T03:04:05.000Z"
    assert doc["seq"] == 1


async def test_missing_time_defaults_to_receive_time(client, app):
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    await client.post("/v1/events", json=event(1))
    doc = await app.ctx.db.events.find_one({"_id": "ev-1"})
    assert doc["time"] >= before


async def test_batch_counts_duplicates_within_and_across_requests(client, app):
    await client.post("/v1/events", json=event(1))
    r = await client.post("/v1/events", json=[event(1), event(2), event(2), event(3)])
    assert r.status_code == 202
    assert r.json() == {"accepted": 2, "duplicates": 2, "ids": ["ev-1", "ev-2", "ev-2", "ev-3"]}
    docs = [d async for d in app.ctx.db.events.find({}).sort("seq", 1)]
    assert [d["_id"] for d in docs if not d.get("filler")] == ["ev-1", "ev-2", "ev-3"]
    assert [d["seq"] for d in docs] == [1, 2, 3, 4]  # the repeat of ev-1: a number, filled


async def test_invalid_batch_stores_nothing_and_points_at_fields(client, app):
    bad = [event(1), {"id": "x", "type": "Bad.Type", "execution": {"duration": -1}, "colour": "red"}]
    r = await client.post("/v1/events", json=bad)
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == 422 and body["title"]
    paths = {(e["index"], e["path"]) for e in body["errors"]}
    assert paths == {(1, "/1/type"), (1, "/1/execution/duration"), (1, "/1/colour")}
    assert await stored_count(app) == 0


async def test_single_event_paths_have_no_index_prefix(client):
    r = await client.post("/v1/events", json={"type": "execution.failed"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"index": 0, "path": "/id", "message": "Field required"}]


async def test_limits_on_ids_types_levels_and_time(client, app):
    future = (datetime.now(timezone.utc) + timedelta(minutes=10)).isoformat()
    deep: dict = {}
    node = deep
    for _ in range(33):
        node["x"] = {}
        node = node["x"]
    cases = [
        ({"id": "", "type": "a.b"}, "/id"),
        ({"id": "x" * 201, "type": "a.b"}, "/id"),
        ({"id": "a", "type": "nodot"}, "/type"),
        ({"id": "a", "type": "a." + "b" * 100}, "/type"),
        ({"id": "a", "type": "a.b", "time": future}, "/time"),
        ({"id": "a", "type": "a.b", "time": "yesterday"}, "/time"),
        ({"id": "a", "type": "a.b", "data": deep}, "/data"),
        ({"id": "a", "type": "a.b", "level": "loud"}, "/level"),
        ({"id": "a", "type": "a.b", "caused_by": {"depth": 0}}, "/caused_by"),
        ({"id": 5, "type": "a.b"}, "/id"),
    ]
    for body, path in cases:
        r = await client.post("/v1/events", json=body)
        assert r.status_code == 422, body
        assert [e["path"] for e in r.json()["errors"]] == [path], body
    assert await stored_count(app) == 0


async def test_custom_fields_live_in_data(client):
    r = await client.post("/v1/events", json={"id": "a", "type": "customer.login_failed",
                                              "data": {"anything": {"goes": [1, 2]}}})
    assert r.status_code == 202


async def test_not_json_is_400(client):
    r = await client.post("/v1/events", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"] == PROBLEM


async def test_wrong_content_type_is_415(client, app):
    r = await client.post("/v1/events", content=json.dumps(event(1)), headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert await stored_count(app) == 0


async def test_oversized_request_is_413_from_content_length(client):
    body = b"[" + b" " * (1024 * 1024) + b"]"
    r = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM


async def test_oversized_chunked_request_is_413(client):
    # 1 MiB + 1 byte with no Content-Length: only the last byte crosses the limit, so the
    # client has written everything before the server answers (no reset mid-upload).
    async def chunks():
        yield b"["
        for _ in range(32):
            yield b" " * 32768

    r = await client.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_oversized_event_and_batch_are_413(client, app):
    big = event(1, data={"blob": "x" * (65 * 1024)})
    assert (await client.post("/v1/events", json=big)).status_code == 413
    many = [{"id": f"e{i}", "type": "a.b"} for i in range(1001)]
    assert (await client.post("/v1/events", json=many)).status_code == 413
    assert await stored_count(app) == 0


async def test_cloudevents_structured_and_batch(client, app):
    ce = {"specversion": "1.0", "id": "ce-1", "type": "execution.failed", "source": "runner-eu-1",
          "time": "2026-01-02T03:04:05Z", "subject": "Acme Sync",
          "data": {"flow": "Sync", "execution": {"id": "x1", "duration": 3}, "order": 7}}
    r = await client.post("/v1/events", content=json.dumps(ce),
                          headers={"content-type": "application/cloudevents+json"})
    assert r.status_code == 202, r.text
    stored = (await app.ctx.db.events.find_one({"_id": "ce-1"}))["event"]
    assert stored["instance"] == {"name": "Acme Sync"}
    assert stored["flow"] == "Sync" and stored["execution"]["duration"] == 3
    assert stored["data"] == {"order": 7} and stored["source"] == "runner-eu-1"
    batch = [dict(ce, id="ce-2"), dict(ce, id="ce-3")]
    r = await client.post("/v1/events", content=json.dumps(batch),
                          headers={"content-type": "application/cloudevents-batch+json; charset=utf-8"})
    assert r.json()["accepted"] == 2


async def test_cloudevent_without_specversion_is_422(client):
    r = await client.post("/v1/events", content=json.dumps({"id": "a", "type": "a.b", "source": "s"}),
                          headers={"content-type": "application/cloudevents+json"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "/specversion"


async def test_metrics_count_accepted_duplicate_rejected(client):
    await client.post("/v1/events", json=[event(1), event(1)])
    await client.post("/v1/events", json={"id": "bad"})
    text = (await client.get("/metrics")).text
    assert "tocsin_events_accepted_total 1.0" in text
    assert "tocsin_events_duplicate_total 1.0" in text
    assert "tocsin_events_rejected_total 1.0" in text
