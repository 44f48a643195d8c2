"""A monitor that cannot be evaluated or stored stops alone; the service goes on.

Two real failures: `max(n) * max(n)` of two counts the API accepts (2**62) is an integer
BSON cannot store (the outbox's write failed, and with it every later round), and a
float `sum` whose window bucket overflows `math.fsum` when it leaves the window (the
engine raised on the timer).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone

from service.app import create_app
from service.db import Database
from tests.service.conftest import make_config
from tests.service.server import running
from tests.support.waiting import eventually

STORE_RULES = """\
monitor "Square" when max(data.n of order.placed) * max(data.n of order.placed) > 0 over 1m notify email "a@example.com"
monitor "Failed" when execution.failed notify email "a@example.com"
monitor "Watch" when monitor.error notify email "ops@example.com"
"""


async def wait_for(predicate, timeout: float = 20.0):
    return await eventually(predicate, timeout)


async def _alerts(client, monitor: str) -> list[dict]:
    return (await client.get("/v1/alerts", params={"monitor": monitor})).json()["items"]


async def _monitors(client) -> dict[str, dict]:
    return {m["name"]: m for m in (await client.get("/v1/monitors")).json()["items"]}


async def test_a_value_that_cannot_be_stored_quarantines_its_monitor_only(mongo_uri, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tocsin")
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(STORE_RULES)
    async with running(create_app(config)) as client:
        await client.post("/v1/events", json={"id": "o1", "type": "order.placed", "data": {"n": 2**62}})
        await client.post("/v1/events", json={"id": "f1", "type": "execution.failed", "instance": {"id": "i1"}})
        assert await wait_for(lambda: _alerts(client, "Failed"))
        # The quarantine is shown, with what failed and on which event; the others are ok.
        monitors = await _monitors(client)
        square = monitors["Square"]
        assert square["status"] == "error" and square["error"]["stage"] == "store"
        assert square["error"]["event_id"] is None  # a metric alert has no triggering event
        assert "MongoDB can only handle up to 8-byte ints" in square["error"]["message"]
        assert (monitors["Failed"]["status"], monitors["Failed"]["error"]) == ("firing", None)
        # A monitor.error event entered the stream, and a monitor alerted on it.
        [watch] = await wait_for(lambda: _alerts(client, "Watch"))
        assert watch["last_event"]["data"]["monitor"] == "Square"
        assert watch["last_event"]["caused_by"] == {"monitors": ["Square"], "depth": 1}
        metrics = (await client.get("/metrics")).text
        assert 'tocsin_monitor_errors_total{monitor="Square"} 1.0' in metrics
        # Evaluation goes on: later events are evaluated, the quarantined monitor sees none.
        await client.post("/v1/events", json={"id": "o2", "type": "order.placed", "data": {"n": 3}})
        await client.post("/v1/events", json={"id": "f2", "type": "execution.failed", "instance": {"id": "i2"}})
        assert await wait_for(lambda: _has(client, "Failed", 2))
        assert await _alerts(client, "Square") == []
        # A reload that changes the monitor releases it.
        changed = STORE_RULES.replace('"a@example.com"\nmonitor "Failed"', '"b@example.com"\nmonitor "Failed"')
        r = await client.put("/v1/rules/main.rules", content=changed, headers={"content-type": "text/plain"})
        assert r.status_code == 200, r.text
        released = await _monitors(client)
        assert (released["Square"]["status"], released["Square"]["error"]) == ("ok", None)
        db = Database.connect(mongo_uri, config.mongodb_database)
        try:
            assert await wait_for(lambda: _no_errors(db))
        finally:
            await db.close()
    assert not [r for r in caplog.records if "evaluation step failed" in r.getMessage()]
    [logged] = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert logged.levelno == logging.ERROR and "'Square'" in logged.getMessage()


async def _has(client, monitor: str, n: int) -> bool:
    return len(await _alerts(client, monitor)) >= n


async def _no_errors(db: Database) -> bool:
    return await db.monitor_errors.count_documents({}) == 0


OVERFLOW_RULES = """\
monitor "Revenue" when sum(data.amount of order.placed) > 0 over 1m notify email "a@example.com"
monitor "Failed" when execution.failed notify email "a@example.com"
"""


async def test_an_engine_error_quarantines_its_monitor_across_a_restart(mongo_uri, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tocsin")
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(OVERFLOW_RULES)
    # Late events inside the window (the evaluator's clock is now): its first bucket
    # leaves the window about 4 s from now.
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=56)
    when = [(base + timedelta(seconds=s)).isoformat().replace("+00:00", "Z") for s in (0, 0.5, 30)]
    events = [{"id": f"o{i}", "type": "order.placed", "time": t, "data": {"amount": amount}}
              for i, (t, amount) in enumerate(zip(when, (1e308, 1e308, 1.0)))]
    async with running(create_app(config)) as client:
        await client.post("/v1/events", json=events)

        async def quarantined():
            monitor = (await _monitors(client))["Revenue"]
            return monitor if monitor["status"] == "error" else None

        revenue = await wait_for(quarantined)
        assert revenue["error"]["message"] == "OverflowError: intermediate overflow in fsum"
        assert revenue["error"]["stage"] == "timer"
        assert revenue["error"]["at"] == (base + timedelta(minutes=1)).isoformat(timespec="milliseconds")[:23] + "Z"
        await client.post("/v1/events", json={"id": "f1", "type": "execution.failed", "instance": {"id": "i1"}})
        assert await wait_for(lambda: _alerts(client, "Failed"))
    # A restart restores the quarantine from the snapshot: still shown, still no loop.
    async with running(create_app(config.model_copy())) as client:
        await client.post("/v1/events", json={"id": "f2", "type": "execution.failed", "instance": {"id": "i2"}})
        assert await wait_for(lambda: _has(client, "Failed", 2))
        assert (await _monitors(client))["Revenue"]["status"] == "error"
        metrics = (await client.get("/metrics")).text
        assert "tocsin_monitor_errors_total{" not in metrics  # this process quarantined nothing new
    assert not [r for r in caplog.records if "evaluation step failed" in r.getMessage()]


# ------------------------------------------------------------ telling the failures apart

def test_only_the_database_failing_is_a_storage_failure():
    from bson.errors import InvalidDocument
    from pymongo.errors import AutoReconnect, DocumentTooLarge, ServerSelectionTimeoutError, WriteError

    from service.unstorable import is_storage_failure

    for exc in (AutoReconnect("gone"), ServerSelectionTimeoutError("no server"), WriteError("refused")):
        assert is_storage_failure(exc), exc
    for exc in (InvalidDocument("bad"), DocumentTooLarge("big"), OverflowError("8-byte ints"),
                UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), KeyError("bug")):
        assert not is_storage_failure(exc), exc


def test_unstorable_names_the_monitors_whose_output_cannot_be_stored():
    import dsl
    from engine import Engine
    from engine.events import from_ms
    from service.unstorable import scrub, unstorable

    ruleset, _ = dsl.load({"t.rules": 'monitor "A" when execution.failed notify email "a@example.com"\n'
                                      'monitor "B" when execution.failed notify email "b@example.com"\n'})
    engine = Engine(ruleset, now=from_ms(0))
    out = engine.process({"id": "e1", "type": "execution.failed", "time": "2026-01-05T00:00:00Z"})
    alerts = engine.drain_changes()
    assert unstorable(out, alerts, ruleset, public_url="http://x") == {}
    a_event, b_event = out
    broken = [a_event, dataclasses.replace(b_event, value=2**70)]
    [(monitor, (error, event))] = unstorable(broken, [], ruleset, public_url="http://x").items()
    assert monitor == "B" and "8-byte ints" in error and event["id"] == "e1"
    b_alert = next(a for a in alerts if a.monitor == "B")
    b_alert.labels = {"team": "caf\udce9"}
    assert set(unstorable([], alerts, ruleset, public_url="http://x")) == {"B"}
    b_alert.labels, b_alert.value, b_alert.threshold = {}, 2**70, 1.5
    scrub(b_alert)
    assert (b_alert.value, b_alert.threshold) == (None, 1.5)
    assert unstorable([], alerts, ruleset, public_url="http://x") == {}
