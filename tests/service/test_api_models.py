"""The request models of `POST /v1/test` and `POST /v1/backtest` are their routes' validators:
what the OpenAPI document states of a body (generated from the model) is what the route
enforces, and a change to the model is a change to the route."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from service.api_models import BacktestBody, DryRunRequest, EventAsSent
from service.routes import backtest, testing

RULES = {"t.rules": 'monitor "f" when execution.failed notify email "a@example.com"\n'}
EVENT = {"id": "e0", "type": "execution.failed", "time": "2026-01-01T00:00:00Z"}
FROM, TO = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"


async def _body_schema(client, path: str) -> dict[str, Any]:
    """The request body's schema in the served document, its `$ref` resolved."""
    document = (await client.get("/openapi.json")).json()
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def _paths(r) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return [e["path"] for e in r.json()["errors"]]


async def test_the_dry_run_enforces_its_documented_body(client):
    schema = await _body_schema(client, "/v1/test")
    body = {"files": RULES, "events": [EVENT]}
    most = schema["properties"]["events"]["maxItems"]
    events = [{**EVENT, "id": f"e{i}"} for i in range(most + 1)]
    r = await client.post("/v1/test", json={**body, "events": events[:most]})
    assert r.status_code == 200, r.text
    r = await client.post("/v1/test", json={**body, "events": events})
    assert r.status_code == 413 and f"at most {most} events" in r.json()["detail"]
    for name in schema["required"]:
        r = await client.post("/v1/test", json={k: v for k, v in body.items() if k != name})
        assert _paths(r) == [f"/{name}"]
    assert schema["additionalProperties"] is False
    r = await client.post("/v1/test", json={**body, "colour": "red"})
    assert _paths(r) == ["/colour"] and r.json()["errors"][0]["message"] == "unknown field"
    assert schema["properties"]["render"]["type"] == "boolean"
    for render in ("true", 1, None):
        assert _paths(await client.post("/v1/test", json={**body, "render": render})) == ["/render"]
    # `until` is a date-time string: not Unix seconds, not a time without an offset.
    for until in (1700000000, "2026-01-01T00:00:00", "yesterday", "0001-01-01T00:00:00Z"):
        assert _paths(await client.post("/v1/test", json={**body, "until": until})) == ["/until"]
    r = await client.post("/v1/test", json={"files": {"t.rules": 1}, "events": {}})
    assert _paths(r) == ["/files/t.rules", "/events"]
    assert _paths(await client.post("/v1/test", json=[body])) == [""]


async def test_the_backtest_enforces_its_documented_body(client):
    schema = await _body_schema(client, "/v1/backtest")
    body = {"files": RULES, "from": FROM, "to": TO}
    limit = schema["properties"]["limit"]
    for value in (limit["minimum"], limit["maximum"]):
        r = await client.post("/v1/backtest", json={**body, "limit": value})
        assert r.status_code == 200, r.text
    for value in (limit["minimum"] - 1, limit["maximum"] + 1, 1.0, True, "5"):
        assert _paths(await client.post("/v1/backtest", json={**body, "limit": value})) == ["/limit"], value
    [monitor] = [s for s in schema["properties"]["monitor"]["anyOf"] if s.get("type") == "string"]
    assert monitor["minLength"] == 1
    r = await client.post("/v1/backtest", json={"monitor": "", "from": FROM, "to": TO})
    assert _paths(r) == ["/monitor"]
    assert sorted(schema["required"]) == ["from", "to"]
    assert _paths(await client.post("/v1/backtest", json={"files": RULES})) == ["/from", "/to"]
    # The body's names are the document's (`from`), not the model's attributes (`from_`).
    assert schema["additionalProperties"] is False
    r = await client.post("/v1/backtest", json={"files": RULES, "from_": FROM, "to": TO})
    assert sorted(_paths(r)) == ["/from", "/from_"]
    assert _paths(await client.post("/v1/backtest", json={**body, "to": "2026-01-01T01:00:00"})) == ["/to"]


async def test_the_routes_validate_with_their_models(client, monkeypatch):
    """A constraint stated only in a model, here a narrower one, is what its route enforces."""

    class FewerEvents(DryRunRequest):
        events: list[EventAsSent] = Field(max_length=2)

    class ShorterAnswers(BacktestBody):
        limit: int = Field(default=1, ge=1, le=5)

    monkeypatch.setattr(testing, "DryRunRequest", FewerEvents)
    monkeypatch.setattr(backtest, "BacktestBody", ShorterAnswers)
    events = [{**EVENT, "id": f"e{i}"} for i in range(3)]
    r = await client.post("/v1/test", json={"files": RULES, "events": events[:2]})
    assert r.status_code == 200, r.text
    r = await client.post("/v1/test", json={"files": RULES, "events": events})
    assert r.status_code == 413 and "at most 2 events" in r.json()["detail"], r.text
    r = await client.post("/v1/backtest", json={"files": RULES, "from": FROM, "to": TO, "limit": 5})
    assert r.status_code == 200, r.text
    r = await client.post("/v1/backtest", json={"files": RULES, "from": FROM, "to": TO, "limit": 6})
    assert _paths(r) == ["/limit"]
