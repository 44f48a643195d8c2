"""`tocsin backtest` against a real `tocsin serve` (embedded database, API keys on): the
table, the JSON equal to `tocsin test` over the same events, and the exit codes.

One service for the module; the command runs in-process through `service.cli.main`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.processes import ServiceProcess, keyed_service
from tests.support.servers import free_port

ADMIN, INGEST = "admin-key-1", "ingest-key-1"
RULES = """\
monitor "Bursts" when count(login.failed) > 2 over 1m notify email "ops@example.com" severity critical
monitor "Failures" when execution.failed notify email "ana@example.com"
"""
FROM, TO = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"
EVENTS = [
    {"id": f"e{i}", "type": t, "time": f"2026-01-01T{at}Z", "instance": {"id": "a"}}
    for i, (t, at) in enumerate([("login.failed", "00:00:00"), ("login.failed", "00:00:10"),
                                 ("execution.failed", "00:00:15"), ("login.failed", "00:00:20"),
                                 ("execution.failed", "03:00:00")])
]


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[ServiceProcess]:
    with keyed_service(tmp_path_factory.mktemp("backtest-cli"), RULES, EVENTS, admin=ADMIN, ingest=INGEST) as served:
        yield served


def test_json_equals_tocsin_test_over_the_same_events(tocsin, tmp_path):
    (tmp_path / "t.rules").write_text(RULES)
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS[:4]) + "\n")
    code, out, err = tocsin("test", str(tmp_path / "t.rules"), "--events", str(tmp_path / "events.jsonl"),
                            "--until", TO, "--format", "json")
    assert code == 0, err
    expected = json.loads(out)["alert_events"]
    assert len(expected) == 3
    code, out, err = tocsin("backtest", str(tmp_path / "t.rules"), "--from", FROM, "--to", TO, "--format", "json")
    assert code == 0, err
    answer = json.loads(out)
    assert [{k: row[k] for k in expected[0]} for row in answer["alert_events"]] == expected
    assert answer["events"] == 4


def test_table_of_a_saved_monitor(tocsin):
    code, out, err = tocsin("backtest", "--monitor", "Bursts", "--from", FROM, "--to", TO)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["AT", "KIND", "MONITOR", "KEY", "SEVERITY", "VALUE", "THRESHOLD", "TARGETS"]
    assert lines[1].split()[:7] == ["2026-01-01T00:00:20Z", "fired", "Bursts", "-", "critical", "3", "2"]
    assert lines[2].split()[:3] == ["2026-01-01T00:01:00Z", "resolved", "Bursts"]
    assert lines[3].startswith("2 alert events from 4 stored events")


def test_exit_codes(tocsin, tmp_path):
    (tmp_path / "bad.rules").write_text('monitor "x" when\n')
    code, out, _ = tocsin("backtest", str(tmp_path / "bad.rules"), "--from", FROM, "--to", TO)
    assert code == 1 and "bad.rules:" in out
    code, _, err = tocsin("backtest", "--monitor", "Nope", "--from", FROM, "--to", TO)
    assert code == 2 and "/monitor" in err
    code, _, err = tocsin("backtest", "--monitor", "Bursts", "--from", "yesterday")
    assert code == 2 and "/from" in err
    code, _, err = tocsin("backtest", "--from", FROM)
    assert code == 2 and "--monitor" in err
    code, _, err = tocsin("backtest", "--monitor", "Bursts", "--from", "1h", "--key", "wrong")
    assert code == 1 and "401" in err
    code, _, err = tocsin("backtest", "--monitor", "Bursts", "--from", "1h",
                          "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 3 and "cannot reach" in err
