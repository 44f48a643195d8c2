"""`tocsin test`: rules + events file -> alert events (text or JSON), exit codes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from engine.model import parse_time
from service.cli import main

RULES = '''
group "DevOps" { email "ana@example.com" webhook "PagerDuty" }
webhook "PagerDuty" { url "https://example.com/pd" }
schedule "night" { hours 00:00-00:30 timezone "UTC" }
monitor "failed" when execution.failed notify group "DevOps"
monitor "overdue" when no execution.completed within 15m on flow "Sync" notify email "bo@example.com"
monitor "muted" when execution.failed notify email "x@example.com" mute during "night"
'''


def _events(tmp_path, *events: dict) -> str:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n# a comment\n\n")
    return str(path)


def _rules(tmp_path, text: str = RULES) -> str:
    path = tmp_path / "ops.rules"
    path.write_text(text)
    return str(path)


def test_json_output_sorted_with_default_until(tmp_path, capsys) -> None:
    events = _events(
        tmp_path,
        {"id": "2", "type": "execution.completed", "time": "2026-01-05T00:10:00Z", "flow": "Sync"},
        {"id": "1", "type": "execution.failed", "time": "2026-01-05T00:00:00Z", "flow": "Sync",
         "instance": {"id": "I1", "name": "Acme"}},
    )
    assert main(["test", _rules(tmp_path), "--events", events, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["diagnostics"] == []
    expected = [
        {"monitor": "failed", "key": {"instance": "I1", "flow": "Sync"}, "kind": "fired",
         "at": "2026-01-05T00:00:00.000Z", "severity": "error",
         "targets": ["email:ana@example.com", "webhook:PagerDuty"]},
        {"monitor": "overdue", "key": {"flow": "Sync"}, "kind": "fired",
         "at": "2026-01-05T00:25:00.000Z", "severity": "error", "targets": ["email:bo@example.com"]},
    ]
    # The default `--until` is the last event (00:10) + the longest interval (15m) = 00:25:
    # the muted alert's notification, due when its mute ends at 00:30, is not reached yet,
    # and the muted `fired` at 00:00 is not listed.
    assert out["alert_events"] == expected


def test_until_and_text_output(tmp_path, capsys) -> None:
    events = _events(tmp_path, {"id": "1", "type": "execution.completed",
                                "time": "2026-01-05T00:00:00Z", "flow": "Sync"})
    assert main(["test", _rules(tmp_path), "--events", events, "--until", "2026-01-05T00:31:00Z"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2026-01-05T00:15:00.000Z  fired") and "overdue" in lines[0]
    assert "repeated" in lines[1] and lines[-1] == "2 alert events"


def test_rules_with_errors_print_diagnostics_and_exit_1(tmp_path, capsys) -> None:
    events = _events(tmp_path)
    assert main(["test", _rules(tmp_path, "when execution.faild"), "--events", events,
                 "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["alert_events"] == [] and out["diagnostics"][0]["code"] == "E201"


def test_unusable_events_file_exits_2(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "x.y"}\n')
    assert main(["test", _rules(tmp_path), "--events", str(bad)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
    assert main(["test", _rules(tmp_path), "--events", str(tmp_path / "missing.jsonl")]) == 2


RENDER_RULES = '''
webhook "hook" {
  url "https://hooks.example.com/in?key={{ secrets.HOOK_TOKEN }}"
  header "X-Customer" "{{ event.customer.name }}"
  payload { "text": "{{ alert.message }}", "link": "{{ alert.url }}" }
}
monitor "Exec failed" when execution.failed
  message "{{ event.message }}"
  notify webhook "hook"
'''
RENDER_EVENTS = (
    {"id": "1", "type": "execution.failed", "time": "2026-01-05T00:00:00Z", "instance": {"id": "I1", "name": "Acme"}},
    {"id": "2", "type": "execution.failed", "time": "2026-01-05T00:01:00Z", "instance": {"id": "I2"},
     "customer": {"name": "Zoë Müller"}, "message": "HTTP 503"},
)


def test_render_json_adds_the_notifications_as_they_would_be_sent(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TOCSIN_PUBLIC_URL", "https://tocsin.example")
    monkeypatch.setenv("TOCSIN_SECRET_HOOK_TOKEN", "s3cret-hook-token")
    events = _events(tmp_path, *RENDER_EVENTS)
    assert main(["test", _rules(tmp_path, RENDER_RULES), "--events", events, "--format", "json", "--render"]) == 0
    text = capsys.readouterr().out
    assert "s3cret" not in text
    first, second = json.loads(text)["alert_events"]
    (n1,), (n2,) = first["notifications"], second["notifications"]
    assert n1["channel"] == "webhook" and n1["target"] == "hook" and n1["method"] == "POST"
    assert n1["url"] == "https://hooks.example.com/in?key=****" and n1["error"] is None
    assert n1["body"]["text"] == "[error] Exec failed: Acme"  # no `message`: the standard text
    assert n1["body"]["link"].startswith("https://tocsin.example/alerts/")  # the console page
    assert n1["render_warnings"] == ["message: rendered empty; the standard text was sent"]
    assert n2["headers"]["X-Customer"] == "Zoë Müller" and n2["body"]["text"] == "HTTP 503"
    assert n2["render_warnings"] == []


def test_render_text_shows_headers_body_and_warnings(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("TOCSIN_SECRET_HOOK_TOKEN", raising=False)
    events = _events(tmp_path, RENDER_EVENTS[0])
    assert main(["test", _rules(tmp_path, RENDER_RULES), "--events", events, "--render"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "    webhook hook: POST https://hooks.example.com/in?key=****"
    assert "      X-Customer: " in lines and "      Content-Type: application/json" in lines
    assert '        "text": "[error] Exec failed: Acme",' in lines
    assert "      render warning: message: rendered empty; the standard text was sent" in lines
    assert any(line.startswith("      render warning: secret HOOK_TOKEN is not set") for line in lines)
    assert lines[-1] == "1 alert event"


def test_without_render_rows_have_no_notifications(tmp_path, capsys) -> None:
    events = _events(tmp_path, RENDER_EVENTS[0])
    assert main(["test", _rules(tmp_path, RENDER_RULES), "--events", events, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["alert_events"]
    assert "notifications" not in row


def test_render_is_in_the_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["test", "--help"])
    assert exit_.value.code == 0
    assert "--render" in capsys.readouterr().out


def test_non_finite_numbers_in_events_exit_2(tmp_path, capsys) -> None:
    for number in ("NaN", "Infinity", "1e400"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"type": "x.y", "time": "2026-01-05T00:00:00Z", "amount": %s}\n' % number)
        assert main(["test", _rules(tmp_path), "--events", str(bad), "--format", "json"]) == 2
        assert "bad.jsonl:1" in capsys.readouterr().err


# ------------------------------------------------ the API's validation, line by line

def test_events_are_validated_with_the_apis_model_and_report_line_and_path(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('# recorded\n'
                   '{"id": "1", "type": "execution.failed", "time": "2026-01-05T00:00:00Z"}\n'
                   '\n'
                   '{"type": "execution.failed", "time": "2026-01-05T00:00:01Z"}\n'
                   '{"id": "3", "type": "execution.failed", "time": "2026-01-05T00:00:02Z", "instance": "Acme"}\n'
                   '{"id": "4", "type": "Execution.Failed", "time": "2026-01-05T00:00:03Z"}\n')
    assert main(["test", _rules(tmp_path), "--events", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: /id: Field required" in err
    assert f"{bad}:5: /instance: " in err
    assert f"{bad}:6: /type: must be lower-case" in err
    assert ":2:" not in err


def test_an_event_without_time_is_taken_as_now_as_the_api_does(tmp_path, capsys) -> None:
    events = _events(tmp_path, {"id": "1", "type": "execution.failed", "instance": {"id": "I1"}})
    before = datetime.now(timezone.utc)
    assert main(["test", _rules(tmp_path), "--events", events, "--format", "json"]) == 0
    [row] = [r for r in json.loads(capsys.readouterr().out)["alert_events"] if r["monitor"] == "failed"]
    assert before - timedelta(milliseconds=1) <= parse_time(row["at"]) <= datetime.now(timezone.utc)


def test_until_leaves_out_the_events_after_it(tmp_path, capsys) -> None:
    events = _events(
        tmp_path,
        {"id": "1", "type": "execution.failed", "time": "2026-01-05T00:00:00Z", "instance": {"id": "I1"}},
        {"id": "2", "type": "execution.failed", "time": "2026-01-05T00:10:00Z", "instance": {"id": "I2"}},
    )
    assert main(["test", _rules(tmp_path), "--events", events, "--until", "2026-01-05T00:05:00Z",
                 "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["alert_events"]
    assert [(r["monitor"], r["key"].get("instance")) for r in rows] == [("failed", "I1")]


def test_until_must_be_a_time_the_api_takes(tmp_path, capsys) -> None:
    events = _events(tmp_path)
    for until in ("9999-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "tomorrow"):
        assert main(["test", _rules(tmp_path), "--events", events, "--until", until]) == 2
        assert "between 1970 and 9000" in capsys.readouterr().err


# ----------------------------------------------------------------------- bounds

EVERY_SECOND = 'monitor "hb" when no heartbeat.sent within 1s every 1s notify email "a@example.com"\n'


def test_a_replay_past_the_alert_event_limit_stops_with_exit_2(tmp_path, capsys) -> None:
    """One event and `--until` 10 days later: 864,000 alert events before; now the replay
    stops as soon as it passes the 10,000 default."""
    events = _events(tmp_path, {"id": "1", "type": "heartbeat.sent", "time": "2026-01-05T00:00:00Z"})
    assert main(["test", _rules(tmp_path, EVERY_SECOND), "--events", events,
                 "--until", "2026-01-15T00:00:00Z", "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert ("the replay made more than 10000 alert events (TOCSIN_TEST_MAX_ALERT_EVENTS); "
            "replay fewer events or pass an earlier --until") in captured.err


def test_a_replay_longer_than_the_span_limit_is_refused(tmp_path, capsys, monkeypatch) -> None:
    events = _events(tmp_path, {"id": "1", "type": "heartbeat.sent", "time": "2026-01-05T00:00:00Z"})
    assert main(["test", _rules(tmp_path, EVERY_SECOND), "--events", events, "--until", "8999-01-01T00:00:00Z"]) == 2
    err = capsys.readouterr().err
    assert "more than the maximum of 31d (TOCSIN_TEST_MAX_SPAN)" in err
    monkeypatch.setenv("TOCSIN_TEST_MAX_SPAN", "1h")
    monkeypatch.setenv("TOCSIN_TEST_MAX_ALERT_EVENTS", "100000")
    assert main(["test", _rules(tmp_path, EVERY_SECOND), "--events", events, "--until", "2026-01-05T02:00:00Z"]) == 2
    assert "the replay would span 2h" in capsys.readouterr().err
    assert main(["test", _rules(tmp_path, EVERY_SECOND), "--events", events, "--until", "2026-01-05T01:00:00Z",
                 "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["alert_events"]) == 3600
    monkeypatch.setenv("TOCSIN_TEST_MAX_SPAN", "forever")
    assert main(["test", _rules(tmp_path, EVERY_SECOND), "--events", events]) == 2
    assert "test_max_span" in capsys.readouterr().err


# ------------------------------------------------------------- a failing monitor

FAILING = '''
monitor "Revenue" when sum(data.amount of order.placed) > 0 over 1m notify email "a@example.com"
monitor "failed" when execution.failed notify email "a@example.com"
'''


def test_a_monitor_that_fails_is_listed_and_the_others_go_on_exit_1(tmp_path, capsys) -> None:
    events = _events(
        tmp_path,
        {"id": "o1", "type": "order.placed", "time": "2026-01-05T00:00:00Z", "data": {"amount": 1e308}},
        {"id": "o2", "type": "order.placed", "time": "2026-01-05T00:00:00.5Z", "data": {"amount": 1e308}},
        {"id": "o3", "type": "order.placed", "time": "2026-01-05T00:00:30Z", "data": {"amount": 1}},
        {"id": "f1", "type": "execution.failed", "time": "2026-01-05T00:05:00Z"},
    )
    assert main(["test", _rules(tmp_path, FAILING), "--events", events, "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["monitor_errors"] == [{"monitor": "Revenue", "error": "OverflowError: intermediate overflow in fsum",
                                      "stage": "timer", "at": "2026-01-05T00:01:00.000Z", "event_id": None}]
    assert ("failed", "fired", "2026-01-05T00:05:00.000Z") in [(r["monitor"], r["kind"], r["at"])
                                                              for r in out["alert_events"]]
    assert main(["test", _rules(tmp_path, FAILING), "--events", events]) == 1
    err = capsys.readouterr().err
    assert "monitor 'Revenue' failed at 2026-01-05T00:01:00.000Z (timer) and was stopped" in err


# ------------------------------------------------------------------- a real pipe

def test_piping_json_into_head_ends_quietly(tmp_path) -> None:
    """`tocsin test --format json | head -n 3`: head goes away after three lines; the
    command stops without a traceback (exit 141, as a process killed by SIGPIPE)."""
    import os
    import subprocess
    import sys

    failures = [{"id": f"e{i}", "type": "execution.failed", "time": "2026-01-05T00:00:00Z",
                 "instance": {"id": f"instance-{i:04d}"}, "flow": "Sync"} for i in range(2000)]
    events = _events(tmp_path, *failures)  # ~2000 rows, far beyond a pipe's 64 KiB
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    command = [sys.executable, "-m", "service.cli", "test", _rules(tmp_path), "--events", events, "--format", "json"]
    tocsin = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    head = subprocess.Popen(["head", "-n", "3"], stdin=tocsin.stdout, stdout=subprocess.PIPE)
    tocsin.stdout.close()  # head holds the only reading end now
    shown, _ = head.communicate(timeout=60)
    err = tocsin.stderr.read()
    assert tocsin.wait(timeout=60) == 141, err
    assert shown.decode().splitlines() == ["{", '  "alert_events": [', "    {"]
    assert err == b""
