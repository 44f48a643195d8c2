"""Every JSON answer of the API is strict JSON: non-finite numbers are `null` (issue 9).

`sum(amount) > 1.5e308` over two events of `1e308` makes an alert whose value is `inf`;
it used to be answered as `Infinity`, which strict parsers (browsers, Go, jq) refuse.
"""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest

from service.app import create_app
from service.json_out import dumps
from tests.service.conftest import make_config
from tests.service.server import running

BIG = ('webhook "hook" { url "http://127.0.0.1:9/hook" }\n'
       'monitor "big" when sum(amount of order.placed) > 1.5e308 over 5m notify webhook "hook"\n')


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def strict(text: str | bytes) -> object:
    """`json.loads` that refuses NaN, Infinity and -Infinity."""
    return json.loads(text, parse_constant=_refuse)


def test_non_finite_numbers_and_unprintable_integers_are_null() -> None:
    value = {"v": math.inf, "w": [-math.inf, math.nan, 1.5], "big": 10**5000, "ok": "Infinity", "n": 7}
    assert strict(dumps(value)) == {"v": None, "w": [None, None, 1.5], "big": None, "ok": "Infinity", "n": 7}
    assert dumps({"a": [1, 2]}) == '{"a":[1,2]}'  # compact, as Sanic's default answers
    with pytest.raises(ValueError):
        strict('{"v": Infinity}')  # the parser of these tests does refuse


async def _alert(client) -> dict:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = strict((await client.get("/v1/alerts")).content)["items"]
        if items:
            return items[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the two orders never fired `big`")


async def test_an_infinite_alert_value_is_answered_as_null(mongo_uri, tmp_path) -> None:
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(BIG)
    async with running(create_app(config)) as client:
        events = [{"id": f"o{i}", "type": "order.placed", "data": {"amount": 1e308}} for i in (1, 2)]
        assert (await client.post("/v1/events", json=events)).status_code == 202
        alert = await _alert(client)
        assert alert["monitor"] == "big" and alert["value"] is None
        detail = await client.get(f"/v1/alerts/{alert['id']}")
        assert detail.status_code == 200
        body = strict(detail.content)
        assert body["value"] is None
        assert all(ae.get("value") is None for ae in body["alert_events"])
        for path in ("/v1/alerts", "/v1/monitors", "/v1/rules"):
            answer = await client.get(path)
            assert answer.status_code == 200 and strict(answer.content) is not None
        dry = await client.post("/v1/test", json={"files": {"main.rules": BIG}, "events": [
            {**e, "time": f"2026-01-01T00:00:0{i}Z"} for i, e in enumerate(events)], "render": True})
        assert dry.status_code == 200
        (notification,) = strict(dry.content)["alert_events"][0]["notifications"]
        assert notification["body"]["value"] is None
        assert notification["render_warnings"] == ["payload: non-finite number at $.value sent as null"]
