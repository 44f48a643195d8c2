"""The evaluator end to end inside one process: alerts, deliveries, people's acts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from service.app import create_app
from tests.service.conftest import make_config
from tests.service.receiver import Receiver
from tests.service.server import running
from tests.support.waiting import deliveries_settled, evaluated, eventually


def rules(url: str) -> str:
    return (f'webhook "hook" {{ url "{url}" }}\n'
            'monitor "failures" when execution.failed notify webhook "hook"\n')


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def live_config(mongo_uri, tmp_path, receiver):
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(rules(receiver.url))
    return config


@pytest.fixture
def live_app(live_config):
    return create_app(live_config)


@pytest.fixture
async def live(live_app):
    async with running(live_app) as client:
        yield client


def failed(i: int, instance: str = "i1") -> dict:
    return {"id": f"ev-{i}", "type": "execution.failed", "flow": "Sync", "instance": {"id": instance}}


async def wait_alerts(client, n: int, **params) -> list[dict]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = (await client.get("/v1/alerts", params=params)).json()["items"]
        if len(items) >= n:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {n} alerts")


async def test_event_fires_an_alert_and_its_webhook(live, receiver):
    assert (await live.post("/v1/events", json=failed(1))).status_code == 202
    [alert] = await wait_alerts(live, 1)
    assert alert["monitor"] == "failures" and alert["status"] == "firing"
    assert alert["key"] == {"instance": "i1", "flow": "Sync"}
    assert {"id", "monitor", "key", "status", "acknowledged", "severity", "fired_at", "resolved_at",
            "count"} <= set(alert)
    assert await asyncio.to_thread(receiver.wait_for, 1)
    assert receiver.requests[0]["body"]["monitor"] == "failures"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        detail = (await live.get(f"/v1/alerts/{alert['id']}")).json()
        deliveries = detail["alert_events"][0]["deliveries"]
        if deliveries and deliveries[0]["state"] == "sent":
            break
        await asyncio.sleep(0.05)
    assert detail["alert_events"][0]["kind"] == "fired"
    assert deliveries[0]["state"] == "sent" and deliveries[0]["attempts"]


async def test_alert_list_filters_and_cursor(live):
    await live.post("/v1/events", json=[failed(i, f"inst-{i}") for i in range(3)])
    await wait_alerts(live, 3)
    first = (await live.get("/v1/alerts", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (await live.get("/v1/alerts", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [a["id"] for a in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    assert len((await live.get("/v1/alerts", params={"status": "firing", "monitor": "failures",
                                                      "acknowledged": "false"})).json()["items"]) == 3
    assert (await live.get("/v1/alerts", params={"status": "resolved"})).json()["items"] == []
    assert (await live.get("/v1/alerts", params={"status": "bogus"})).status_code == 422
    assert (await live.get("/v1/alerts", params={"cursor": "!!"})).status_code == 422
    assert (await live.get("/v1/alerts", params={"limit": "0"})).status_code == 422


async def test_acknowledge_then_clear(live, receiver):
    await live.post("/v1/events", json=failed(1))
    [alert] = await wait_alerts(live, 1)
    r = await live.post(f"/v1/alerts/{alert['id']}/acknowledge", json={"by": "ana", "comment": "on it"})
    assert r.status_code == 200
    assert r.json()["acknowledged"] is True and r.json()["acknowledged_by"] == "ana"
    r = await live.post(f"/v1/alerts/{alert['id']}/clear", json={"by": "ana"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert (await live.post(f"/v1/alerts/{alert['id']}/clear", json={})).status_code == 409
    assert (await live.post("/v1/alerts/nope/acknowledge", json={})).status_code == 404
    assert (await live.post(f"/v1/alerts/{alert['id']}/clear", json={"by": 3})).status_code == 422
    kinds = [e["kind"] for e in (await live.get(f"/v1/alerts/{alert['id']}")).json()["alert_events"]]
    assert kinds == ["fired", "resolved"]


async def test_context_returns_stored_events_of_the_same_key(live):
    await live.post("/v1/events", json=[
        {"id": "log-1", "type": "log.written", "level": "info", "flow": "Sync", "instance": {"id": "i1"}},
        {"id": "other", "type": "log.written", "level": "info", "flow": "Sync", "instance": {"id": "i2"}},
    ])
    await live.post("/v1/events", json=failed(1))
    [alert] = await wait_alerts(live, 1, monitor="failures")
    body = (await live.get(f"/v1/alerts/{alert['id']}/context", params={"before": "1m", "after": "1m"})).json()
    ids = [e["id"] for e in body["items"]]
    assert "log-1" in ids and "ev-1" in ids and "other" not in ids
    assert (await live.get(f"/v1/alerts/{alert['id']}/context", params={"before": "soon"})).status_code == 422
    assert (await live.get("/v1/alerts/none/context")).status_code == 404


async def test_silences_crud(live):
    r = await live.post("/v1/silences", json={"matchers": {"monitor": "failures"}, "duration": "1h",
                                              "comment": "deploy", "by": "bo"})
    assert r.status_code == 201
    silence = r.json()
    assert silence["matchers"] == {"monitor": "failures"} and silence["active"] is True
    assert [s["id"] for s in (await live.get("/v1/silences")).json()["items"]] == [silence["id"]]
    assert (await live.post("/v1/silences", json={"matchers": {}, "duration": "1h"})).status_code == 422
    assert (await live.post("/v1/silences", json={"matchers": {"monitor": "x"}})).status_code == 422
    assert (await live.post("/v1/silences", json={"matchers": {"monitor": "x"},
                                                  "ends_at": "2000-01-01T00:00:00Z"})).status_code == 422
    assert (await live.delete(f"/v1/silences/{silence['id']}")).status_code == 204
    assert (await live.delete(f"/v1/silences/{silence['id']}")).status_code == 404


async def test_silenced_alert_is_recorded_but_not_delivered(live_app, live, receiver):
    await live.post("/v1/silences", json={"matchers": {"monitor": "failures"}, "duration": "1h"})
    await evaluated(live_app)  # its next round took the silence in
    await live.post("/v1/events", json=failed(1))
    [alert] = await wait_alerts(live, 1)
    await evaluated(live_app)
    await eventually(lambda: deliveries_settled(live_app.ctx.db))
    assert receiver.count == 0
    detail = (await live.get(f"/v1/alerts/{alert['id']}")).json()
    assert detail["alert_events"][0]["muted"] is True


async def test_dry_run_has_no_side_effects(live, receiver):
    body = {"files": {"t.rules": 'monitor "t" when execution.failed notify email "ana@example.com"\n'},
            "events": [dict(failed(1), time="2026-01-01T00:00:00Z")]}
    r = await live.post("/v1/test", json=body)
    assert r.status_code == 200, r.text
    [ae] = r.json()["alert_events"]
    assert ae == {"monitor": "t", "key": {"instance": "i1", "flow": "Sync"}, "kind": "fired",
                  "at": "2026-01-01T00:00:00.000Z", "severity": "error", "targets": ["email:ana@example.com"]}
    assert (await live.get("/v1/alerts")).json()["items"] == []
    bad = await live.post("/v1/test", json={"files": {}, "events": [{"id": "x"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "/events/0/type"


async def test_monitors_and_readiness(live):
    await live.post("/v1/events", json=failed(1))
    await wait_alerts(live, 1)
    [m] = (await live.get("/v1/monitors")).json()["items"]
    assert m["name"] == "failures" and m["open_alerts"] == 1 and m["targets"] == ["webhook:hook"]
    assert m["status"] == "firing"  # a monitor with a firing alert is not "ok"
    assert (await live.get("/readyz")).status_code == 200
    doc = (await live.get("/openapi.json")).json()
    assert {"/v1/events", "/v1/alerts/{id}/context", "/v1/test", "/readyz"} <= set(doc["paths"])
    assert "swagger" in (await live.get("/docs")).text.lower()


FILTER_RULES = """webhook "hook" { url "http://127.0.0.1:9/hook" }
monitor "failures" when execution.failed notify webhook "hook" severity critical
monitor "retries" when execution.retry_pending notify webhook "hook" severity warning
monitor "logins" when customer.login_failed by customer notify webhook "hook" severity info
"""
ACME_SYNC = {"id": "i-1", "name": "Acme Sync"}
ACME = {"name": "Acme", "external_id": "acme-42"}


@pytest.fixture
async def scoped(live_config):
    """Four alerts of three severities; the scope filters match an instance by id and by
    name, a customer by external id (also the `by customer` key) and by name."""
    (Path(live_config.rules_dir) / "main.rules").write_text(FILTER_RULES)
    async with running(create_app(live_config)) as client:
        r = await client.post("/v1/events", json=[
            {"id": "f1", "type": "execution.failed", "flow": "Sync", "instance": ACME_SYNC, "customer": ACME},
            {"id": "f2", "type": "execution.failed", "flow": "Import", "instance": {"name": "Beta"}},
            {"id": "r1", "type": "execution.retry_pending", "flow": "Sync", "instance": {"name": "Acme Sync"}},
            {"id": "l1", "type": "customer.login_failed", "customer": ACME},
        ])
        assert r.status_code == 202, r.text
        await wait_alerts(client, 4)
        yield client


async def listed(client, **params) -> list[tuple[str, str | None]]:
    r = await client.get("/v1/alerts", params=params)
    assert r.status_code == 200, r.text
    return sorted((a["monitor"], (a["last_event"] or {}).get("id")) for a in r.json()["items"])


async def test_alert_list_filters_by_severity_and_scope(scoped):
    assert await listed(scoped, severity="critical") == [("failures", "f1"), ("failures", "f2")]
    assert await listed(scoped, severity="info") == [("logins", "l1")]
    # instance: the key holds the id (i-1), the events the name too
    assert await listed(scoped, instance="i-1") == [("failures", "f1")]
    assert await listed(scoped, instance="Acme Sync") == [("failures", "f1"), ("retries", "r1")]
    assert await listed(scoped, flow="Import") == [("failures", "f2")]
    # customer: key (external id, logins is `by customer`) or the last event's name / external id
    assert await listed(scoped, customer="acme-42") == [("failures", "f1"), ("logins", "l1")]
    assert await listed(scoped, customer="Acme", severity="info") == [("logins", "l1")]
    assert await listed(scoped, flow="Sync", acknowledged="false", status="firing") == [
        ("failures", "f1"), ("retries", "r1")]
    assert await listed(scoped, acknowledged="true") == []
    assert await listed(scoped, instance="nobody") == []
    assert len(await listed(scoped, severity="", instance="")) == 4  # blank: no filter


async def test_filtered_pages_keep_the_filter(scoped):
    first = (await scoped.get("/v1/alerts", params={"flow": "Sync", "limit": 1})).json()
    second = (await scoped.get("/v1/alerts", params={"flow": "Sync", "limit": 1,
                                                     "cursor": first["next_cursor"]})).json()
    assert second["next_cursor"] is None
    assert {first["items"][0]["monitor"], second["items"][0]["monitor"]} == {"failures", "retries"}


async def test_alert_list_refuses_unknown_and_repeated_parameters(scoped):
    for query, parameter in (("severty=critical", "severty"), ("bogus=", "bogus"),
                             ("status=firing&status=pending", "status"), ("severity=urgent", "severity"),
                             ("instance=a&instance=b", "instance")):
        r = await scoped.get(f"/v1/alerts?{query}")
        assert r.status_code == 422, query
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["path"] for e in r.json()["errors"]] == [parameter], query
    r = await scoped.get("/v1/alerts?a=1&b=2&monitor=failures")
    assert [e["path"] for e in r.json()["errors"]] == ["a", "b"]
    assert "a, b" in r.json()["detail"]
