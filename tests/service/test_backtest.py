"""`POST /v1/backtest`: the stored events of a range, replayed dry, answer as `POST /v1/test`."""

from __future__ import annotations

import jsonschema_rs
import pytest

from service.app import create_app
from tests.service.conftest import make_config
from tests.service.server import running

RULES = """\
group "Ops" { email "ops@example.com" }
monitor "Bursts" when count(login.failed) > 2 over 1m notify group "Ops" severity critical
monitor "Failures" when execution.failed notify email "ana@example.com"
"""
FROM, TO = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"


def ev(i: int, type_: str, time: str, instance: str = "a") -> dict:
    return {"id": f"e{i}", "type": type_, "time": f"2026-01-01T{time}Z", "instance": {"id": instance}}


EVENTS = [
    ev(1, "login.failed", "00:00:00"), ev(2, "login.failed", "00:00:10"), ev(3, "execution.failed", "00:00:15"),
    ev(4, "login.failed", "00:00:20"), ev(5, "execution.failed", "00:20:00", "b"),
    ev(6, "login.failed", "00:30:00"),
]
OUTSIDE = [ev(7, "execution.failed", "02:00:00"),
           {"id": "e8", "type": "execution.failed", "time": "2025-12-31T23:59:59Z", "instance": {"id": "a"}},
           # What the service emits itself (the live rules' output) is not replayed.
           {"id": "e9", "type": "execution.failed", "time": "2026-01-01T00:30:00Z", "instance": {"id": "a"},
            "source": "tocsin"}]
SIDE_EFFECTS = ("alerts", "alert_events", "deliveries", "events", "rulesets", "checkpoints", "snapshots", "commands")


@pytest.fixture
async def service(mongo_uri, tmp_path):
    config = make_config(mongo_uri, tmp_path, backtest_max_events=10)
    (tmp_path / "rules" / "main.rules").write_text(RULES)
    app = create_app(config)
    async with running(app) as client:
        r = await client.post("/v1/events", json=EVENTS + OUTSIDE)
        assert r.status_code == 202, r.text
        yield app, client


async def _counts(app) -> dict[str, int]:
    db = app.ctx.db
    return {name: await getattr(db, name).count_documents({}) for name in SIDE_EFFECTS}


async def test_backtest_equals_the_dry_run_of_the_same_events(service):
    app, client = service
    before = await _counts(app)
    r = await client.post("/v1/backtest", json={"files": {"t.rules": RULES}, "from": FROM, "to": TO})
    assert r.status_code == 200, r.text
    body = r.json()
    dry = await client.post("/v1/test", json={"files": {"t.rules": RULES}, "events": EVENTS, "until": TO})
    assert dry.status_code == 200, dry.text
    expected = dry.json()["alert_events"]
    assert [{k: a[k] for k in expected[0]} for a in body["alert_events"]] == expected
    assert [(a["monitor"], a["kind"], a["at"][11:19]) for a in body["alert_events"]] == [
        ("Failures", "fired", "00:00:15"), ("Bursts", "fired", "00:00:20"), ("Bursts", "resolved", "00:01:00"),
        ("Failures", "fired", "00:20:00")]
    fired, resolved = body["alert_events"][1:3]
    assert fired["alert_id"] == resolved["alert_id"] and fired["value"] == 3 and fired["threshold"] == 2
    assert (body["ok"], body["events"], body["total"], body["truncated"]) == (True, 6, 4, False)
    assert await _counts(app) == before  # nothing stored (and so nothing to deliver)
    document = (await client.get("/openapi.json")).json()
    answer = "#/paths/~1v1~1backtest/post/responses/200/content/application~1json/schema"
    jsonschema_rs.Draft202012Validator({**document, "$ref": answer}).validate(body)


async def test_backtest_of_a_saved_monitor_and_a_page_cap(service):
    _, client = service
    r = await client.post("/v1/backtest", json={"monitor": "Bursts", "from": FROM, "to": TO, "limit": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["truncated"]) == (2, True)
    [row] = body["alert_events"]
    assert (row["monitor"], row["kind"], row["targets"]) == ("Bursts", "fired", ["email:ops@example.com"])
    r = await client.post("/v1/backtest", json={"monitor": "Nope", "from": FROM, "to": TO})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/monitor"


async def test_rule_errors_are_diagnostics(service):
    _, client = service
    r = await client.post("/v1/backtest", json={"files": {"t.rules": "monitor"}, "from": FROM, "to": TO})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is False and r.json()["diagnostics"]


async def test_a_range_over_the_bound_is_refused(service):
    _, client = service
    r = await client.post("/v1/backtest", json={"monitor": "Bursts", "from": "2025-12-31T00:00:00Z",
                                                "to": "2026-01-02T00:00:00Z"})  # 8 events read, bound 10: fine
    assert r.status_code == 200, r.text
    more = [ev(100 + i, "login.failed", f"00:40:{i:02d}") for i in range(3)]
    assert (await client.post("/v1/events", json=more)).status_code == 202
    r = await client.post("/v1/backtest", json={"monitor": "Bursts", "from": "2025-12-31T00:00:00Z",
                                                "to": "2026-01-02T00:00:00Z"})
    assert r.status_code == 422, r.text
    assert "TOCSIN_BACKTEST_MAX_EVENTS" in r.json()["detail"] and "11" in r.json()["detail"]


@pytest.mark.parametrize("body, path", [
    ({"from": FROM, "to": TO}, ""),
    ({"monitor": "Bursts", "files": {}, "from": FROM, "to": TO}, ""),
    ({"monitor": "Bursts", "from": TO, "to": FROM}, "/to"),
    ({"monitor": "Bursts", "from": "yesterday", "to": TO}, "/from"),
    ({"monitor": "Bursts", "from": FROM, "to": TO, "limit": 0}, "/limit"),
    ({"monitor": "Bursts", "from": FROM, "to": TO, "until": TO}, "/until"),
])
async def test_invalid_requests(service, body, path):
    _, client = service
    r = await client.post("/v1/backtest", json=body)
    assert r.status_code == 422, r.text
    assert path in [e["path"] for e in r.json()["errors"]]
