"""Logs (issue 9): `tocsin serve` and `tocsin worker` print each line once, as text or as
one JSON object per line, and the delivery outcome line leaks nothing at INFO."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from delivery.ledger import FAILED, SENT, Outcome
from delivery.outcome_log import log_outcome
from service.logs import QUIET_UNLESS_DEBUG, SANIC_LOGGERS, configure_logging, parse_level
from tests.delivery.support import WebhookChannel, one_request
from tests.service.receiver import Receiver
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ('webhook "hook" {{ url "{url}" }}\n'
         'monitor "f" when execution.failed notify webhook "hook"\n')


def run_until(args: list[str], cwd: Path, env: dict[str, str], ready, timeout: float = 30.0) -> str:
    """Run `python -m service.cli ARGS` until `ready(output so far)` is true, then
    SIGTERM; its whole output (stdout and stderr)."""
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")},
                "PYTHONPATH": str(ROOT), **env}
    out_path = cwd / f"output-{time.monotonic_ns()}.txt"
    with out_path.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", *args], cwd=cwd, env=full_env,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + timeout
            while proc.poll() is None and not ready(out_path.read_text()):
                assert time.monotonic() < deadline, "not ready in time:\n" + out_path.read_text()
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return out_path.read_text()


def serve_once(tmp_path: Path, fmt: str) -> tuple[str, Receiver]:
    """`tocsin serve` on an embedded database: one event, one delivery, then stopped."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with Receiver() as receiver:
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "main.rules").write_text(RULES.format(url=receiver.url))
        posted: list[bool] = []

        def delivered(_output: str) -> bool:
            with contextlib.suppress(httpx.HTTPError):
                if not posted and httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    event = {"id": "e1", "type": "execution.failed", "instance": {"id": "i1"},
                             "customer": {"name": "Zoë Müller"}, "message": "mail zoe@example.com"}
                    httpx.post(f"{url}/v1/events", json=event, timeout=5).raise_for_status()
                    posted.append(True)
            return receiver.count >= 1

        output = run_until(["serve", "--port", str(port)], tmp_path,
                           {"TOCSIN_LOG_FORMAT": fmt}, delivered, timeout=60)
        return output, receiver


def test_serve_prints_json_lines_each_once(tmp_path):
    output, receiver = serve_once(tmp_path, "json")
    assert receiver.count == 1, output
    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    messages = [r["message"] for r in records]
    assert any(m.startswith("tocsin listening on") for m in messages)
    assert any(r["logger"].startswith("sanic") for r in records)  # Sanic's lines come through ...
    assert [m for m, n in Counter(lines).items() if n > 1] == []  # ... once
    assert "zoe@example.com" not in output and "Zoë" not in output


def test_serve_text_lines_appear_once(tmp_path):
    output, receiver = serve_once(tmp_path, "text")
    assert receiver.count == 1, output
    lines = [line for line in output.splitlines() if line.strip()]
    for sanic_line in ("Starting worker", "Worker ready"):  # Sanic's handler and the root's: twice
        assert sum(sanic_line in line for line in lines) == 1, output
    messages = Counter(line.split(": ", 1)[-1] for line in lines if " INFO " in line)
    assert [m for m, n in messages.items() if n > 1] == [], output


def test_worker_prints_json_lines(tmp_path, mongo_uri, redis_url):
    env = {"TOCSIN_LOG_FORMAT": "json", "TOCSIN_BROKER_URL": redis_url, "TOCSIN_MONGODB_URI": mongo_uri,
           "TOCSIN_MONGODB_DATABASE": "t_worker_logs"}
    output = run_until(["worker", "--threads", "2"], tmp_path, env,
                       lambda out: "tocsin worker:" in out, timeout=60)
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, output
    records = [json.loads(line) for line in lines]
    assert any(r["message"].startswith("tocsin worker:") for r in records)


def test_worker_usage_error_is_json_too(tmp_path):
    output = run_until(["worker"], tmp_path, {"TOCSIN_LOG_FORMAT": "json"}, lambda _: False, timeout=60)
    (record,) = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert record["level"] == "ERROR" and "TOCSIN_BROKER_URL" in record["message"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        parse_level("verbose")
    from service.config import Config

    with pytest.raises(ValueError):
        Config(_env_file=None, log_format="xml")
    assert Config(_env_file=None, log_level="DEBUG").log_level == "debug"


# -- the delivery outcome line ---------------------------------------------------------

def _outcome(request, state: str, error: str | None, status: int | None) -> Outcome:
    record = {"attempt": 2, "at": "2026-11-29T10:00:00Z", "status": status, "latency_ms": 12.5,
              "error": error, "outcome": "ok" if state == SENT else "failed", "retry_in_ms": None}
    return Outcome(request.id, "w", record, state, render_warnings=("payload.a: x; fell back",))


@contextlib.contextmanager
def captured(level: str, fmt: str):
    """`configure_logging` into a string; the process's logging as it was afterwards (a
    debug level left on pymongo would slow every later test of this worker)."""
    stream = io.StringIO()
    root = logging.getLogger()
    others = [logging.getLogger(name) for name in (*QUIET_UNLESS_DEBUG, *SANIC_LOGGERS)]
    saved = (list(root.handlers), root.level, [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in others])
    configure_logging(level, fmt, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for lg, lvl, handlers, propagate in saved[2]:
            lg.setLevel(lvl)
            lg.handlers[:] = handlers
            lg.propagate = propagate


def test_the_outcome_line_names_ids_channel_and_status_only():
    request = one_request(WebhookChannel("ops", url="https://hooks.example.com/T0/SECRETPATH"))
    error = 'HTTP 400: {"echo": "ana@example.com +27 82 555 0100 Zoë"}'
    with captured("info", "json") as stream:
        log_outcome(request, _outcome(request, FAILED, error, 400))
        log_outcome(request, _outcome(request, SENT, None, 200))
    failed, sent = (json.loads(line) for line in stream.getvalue().splitlines())
    assert failed["level"] == "WARNING" and sent["level"] == "INFO"
    assert failed["delivery_id"] == request.id and failed["channel"] == "webhook"
    assert failed["alert_id"] == "al-123" and failed["alert_event_id"] == request.alert_event_id
    assert failed["state"] == "failed" and failed["status"] == 400 and failed["error_kind"] == "HTTP 400"
    assert failed["render_warnings"] == 1 and failed["attempt"] == 2
    text = stream.getvalue()
    for leak in ("ana@example.com", "555", "Zoë", "SECRETPATH", "hooks.example.com", "fell back"):
        assert leak not in text


def test_the_outcome_line_carries_details_at_debug():
    request = one_request(WebhookChannel("ops", url="https://hooks.example.com/T0/x"))
    with captured("debug", "text") as stream:
        log_outcome(request, _outcome(request, FAILED, "HTTP 400: bad", 400))
    text = stream.getvalue()
    assert text.count("\n") == 1 and "to ops" in text
    assert "WARNING tocsin.delivery.outcome: delivery dlv_" in text
