"""`POST /v1/test` answers the rows `tocsin test --format json` prints for the same input."""

from __future__ import annotations

import argparse
import contextlib
import io
import json

from tests.service.server import running

RULES = """\
schedule "always" { days mon-sun hours 00:00-24:00 timezone "UTC" }
monitor "Failures" when execution.failed notify email "ana@example.com" severity critical
monitor "Muted" when execution.failed notify email "bob@example.com" mute during "always"
monitor "Slow" when execution.duration >= 3s notify email "ana@example.com"
"""

EVENTS = [
    {"id": "e1", "type": "execution.failed", "time": "2026-01-01T00:00:05Z", "instance": {"id": "b"}},
    {"id": "e2", "type": "execution.failed", "time": "2026-01-01T00:00:01Z", "instance": {"id": "a"}},
    {"id": "e3", "type": "execution.started", "time": "2026-01-01T00:00:00Z", "instance": {"id": "a"},
     "execution": {"id": "x1"}},
]


def _cli_rows(tmp_path) -> dict:
    from engine.cli import test_command

    (tmp_path / "t.rules").write_text(RULES)
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    args = argparse.Namespace(paths=[str(tmp_path / "t.rules")], events=str(tmp_path / "events.jsonl"),
                              until="2026-01-01T00:10:00Z", format="json")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert test_command(args) == 0
    return json.loads(out.getvalue())


async def test_dry_run_rows_equal_the_cli(app, tmp_path):
    expected = _cli_rows(tmp_path)
    async with running(app) as client:
        r = await client.post("/v1/test", json={"files": {"t.rules": RULES}, "events": EVENTS,
                                                "until": "2026-01-01T00:10:00Z"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True
    assert body["alert_events"] == expected["alert_events"]
    # Sorted by time then monitor; the muted monitor's rows are left out; severity is there.
    assert [(a["monitor"], a["kind"]) for a in body["alert_events"]][:2] == [("Failures", "fired"), ("Slow", "fired")]
    assert all(a["monitor"] != "Muted" for a in body["alert_events"])
    assert body["alert_events"][0]["severity"] == "critical"


async def test_dry_run_rejects_unrepresentable_times(client):
    body = {"files": {}, "events": [{"id": "x", "type": "a.b", "time": "0169-08-24T07:44:12Z"}],
            "until": "0001-01-01T00:00:00+05:00"}
    r = await client.post("/v1/test", json=body)
    assert r.status_code == 422
    assert {e["path"] for e in r.json()["errors"]} == {"/until"}  # the body's shape first, then events
    r = await client.post("/v1/test", json={"files": {}, "events": body["events"]})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/events/0/time"


async def test_status_filter_accepts_inactive(client):
    r = await client.get("/v1/alerts", params={"status": "inactive"})
    assert r.status_code == 200 and r.json()["items"] == []
    assert (await client.get("/v1/alerts", params={"status": "gone"})).status_code == 422
