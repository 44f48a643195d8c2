"""`tocsin alerts` and `tocsin silences` against a real `tocsin serve` (embedded database,
API keys on): tables, JSON, people's acts and every exit code.

One service for the module; the commands run in-process through `service.cli.main`
(the same parser and code as the console script), and once as a process to check
what the shell sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import REPO_ROOT, ServiceProcess, child_env, keyed_service, wait_for
from tests.support.servers import free_port

ADMIN, INGEST = "admin-key-1", "ingest-key-1"
RULES = """\
monitor "Sync failed" when execution.failed on flow "Sync" notify email "ana@example.com" severity critical
monitor "Slow" when execution.completed where execution.duration >= 10s notify email "ana@example.com" severity warning
"""
EVENTS = [
    {"id": "f1", "type": "execution.failed", "flow": "Sync", "instance": {"name": "Acme"}},
    {"id": "f2", "type": "execution.failed", "flow": "Sync", "instance": {"name": "Beta"}},
    {"id": "c1", "type": "execution.completed", "flow": "Import", "instance": {"name": "Acme"},
     "execution": {"duration": 12}},
]


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[ServiceProcess]:
    """Three alerts: "Sync failed" for Acme and Beta (critical), "Slow" for Acme (warning)."""
    with keyed_service(tmp_path_factory.mktemp("alerts-cli"), RULES, EVENTS, admin=ADMIN, ingest=INGEST) as served:
        wait_for(lambda: len(api(served, "/v1/alerts")["items"]) == 3, timeout=30, message=served.log)
        yield served


def api(service: ServiceProcess, path: str, **params: str) -> dict:
    r = httpx.get(f"{service.url}{path}", params=params, headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text
    return r.json()


def alert_of(service: ServiceProcess, monitor: str, instance: str) -> dict:
    [alert] = api(service, "/v1/alerts", monitor=monitor, instance=instance)["items"]
    return alert


def test_list_is_a_table_for_people_and_the_api_for_scripts(tocsin, service):
    code, out, _ = tocsin("alerts", "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "STATUS", "ACK", "SEVERITY", "MONITOR", "KEY", "SINCE", "COUNT"]
    assert {row.split()[0] for row in rows} == {a["id"] for a in api(service, "/v1/alerts")["items"]}
    code, out, _ = tocsin("alerts", "list", "--format", "json")
    assert code == 0 and json.loads(out) == api(service, "/v1/alerts")["items"]


def test_list_passes_every_filter_and_pages_up_to_the_limit(tocsin, service):
    code, out, _ = tocsin("alerts", "list", "--severity", "critical", "--instance", "Acme", "--format", "json")
    assert code == 0 and [a["id"] for a in json.loads(out)] == [alert_of(service, "Sync failed", "Acme")["id"]]
    code, out, _ = tocsin("alerts", "list", "--flow", "Import", "--customer", "nobody", "--format", "json")
    assert code == 0 and json.loads(out) == []
    code, out, err = tocsin("alerts", "list", "--limit", "2", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 2 and "--limit" in err
    code, out, _ = tocsin("alerts", "list", "--monitor", "nothing")
    assert code == 0 and out == "no alerts\n"


def test_show_lists_the_alert_events_and_their_deliveries(tocsin, service):
    alert = alert_of(service, "Slow", "Acme")
    wait_for(lambda: api(service, f"/v1/alerts/{alert['id']}")["alert_events"][0]["deliveries"][0]["state"]
             == "failed", timeout=20, message=service.log)
    code, out, _ = tocsin("alerts", "show", alert["id"])
    assert code == 0
    assert f"id             {alert['id']}" in out and "monitor        Slow" in out
    delivery = out.split("\n\n")[1].splitlines()[1].split()
    assert delivery[1:6] == ["fired", "email", "ana@example.com", "failed", "1"]
    code, out, _ = tocsin("alerts", "show", alert["id"], "--format", "json")
    assert code == 0 and json.loads(out)["alert_events"][0]["kind"] == "fired"


def test_acknowledge_then_clear_then_clear_again_is_refused(tocsin, service):
    alert = alert_of(service, "Sync failed", "Beta")
    code, out, _ = tocsin("alerts", "ack", alert["id"], "--comment", "looking", "--by", "ana")
    assert (code, out) == (0, f"acknowledged {alert['id']} (Sync failed, flow=Sync instance=Beta, firing)\n")
    detail = api(service, f"/v1/alerts/{alert['id']}")
    assert (detail["acknowledged"], detail["acknowledged_by"], detail["comment"]) == (True, "ana", "looking")
    code, out, _ = tocsin("alerts", "list", "--acknowledged", "true", "--format", "json")
    assert [a["id"] for a in json.loads(out)] == [alert["id"]]
    code, out, _ = tocsin("alerts", "clear", alert["id"], "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "resolved"
    code, out, err = tocsin("alerts", "clear", alert["id"])
    assert (code, out) == (1, "") and err.startswith("tocsin alerts clear: 409 ")


def test_exit_codes(tocsin, service, monkeypatch):
    code, _, err = tocsin("alerts", "show", "no-such-alert")
    assert code == 1 and "404" in err
    for argv in (["alerts", "list", "--status", "bogus"], ["alerts", "list", "--severity", "urgent"],
                 ["alerts", "ack"], ["alerts", "list", "--limit", "0"], ["alerts", "list", "--url", "ftp://x"],
                 ["silences", "add", "monitor=x"]):
        code, _, err = tocsin(*argv)
        assert code == 2, argv
    code, _, err = tocsin("alerts", "list", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 3 and "cannot reach" in err
    monkeypatch.setenv("TOCSIN_API_KEY", INGEST)
    code, _, err = tocsin("alerts", "list")
    assert code == 1 and "403" in err
    assert tocsin("alerts", "list", "--key", ADMIN)[0] == 0
    monkeypatch.delenv("TOCSIN_API_KEY")
    code, _, err = tocsin("alerts", "list")
    assert code == 1 and "401" in err


def test_silences_add_list_expire(tocsin, service):
    code, out, _ = tocsin("silences", "add", "monitor=Sync failed", "flow=Sync", "--duration", "1h",
                          "--comment", "deploy", "--by", "bo", "--format", "json")
    assert code == 0
    silence = json.loads(out)
    assert silence["matchers"] == {"monitor": "Sync failed", "flow": "Sync"} and silence["by"] == "bo"
    code, out, _ = tocsin("silences", "list")
    [row] = [line for line in out.splitlines() if line.startswith(silence["id"])]
    assert 'flow=Sync monitor="Sync failed"' in row and row.endswith("  bo  deploy")
    assert tocsin("silences", "add", "monitor=x", "--duration", "2y")[0] == 2  # the service's 422
    code, out, _ = tocsin("silences", "expire", silence["id"])
    assert (code, out) == (0, f"expired silence {silence['id']}\n")
    assert silence["id"] not in tocsin("silences", "list", "--all")[1]
    code, _, err = tocsin("silences", "expire", silence["id"])
    assert code == 1 and "404" in err


def test_the_console_script_exits_with_the_code(service):
    """What a shell sees: the process's exit status and its two streams."""
    env = child_env({"TOCSIN_URL": service.url, "TOCSIN_API_KEY": ADMIN})
    ok = subprocess.run([sys.executable, "-m", "service.cli", "alerts", "list", "--status", "firing"],
                        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "Sync failed" in ok.stdout and ok.stderr == ""
    gone = subprocess.run([sys.executable, "-m", "service.cli", "silences", "list",
                           "--url", f"http://127.0.0.1:{free_port()}"],
                          cwd=Path(REPO_ROOT), env=env, capture_output=True, text=True, timeout=60)
    assert gone.returncode == 3 and gone.stdout == "" and "tocsin silences list: cannot reach" in gone.stderr
