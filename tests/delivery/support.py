"""Real local receivers and value builders for the delivery tests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from delivery.ledger import MemoryLedger, Outcome
from delivery.pipeline import attempt
from delivery.request import DeliveryRequest, build_requests
from delivery.runtime import WorkerResources
from delivery.secrets import Secrets
from delivery.settings import DeliverySettings, RetryPolicy
from dsl.channels.pagerduty import PagerDutyChannel
from dsl.channels.slack import SlackChannel
from dsl.channels.webhook import WebhookChannel
from dsl.ruleset import Group, RuleSet
from engine.model import AlertEvent, Destination

FIRED_AT = datetime(2026, 11, 22, 7, 30, 0, 125000, tzinfo=timezone.utc)
EVENT = {
    "id": "4f1c2b9e-execution-failed",
    "type": "execution.failed",
    "time": "2026-11-22T07:30:00.125Z",
    "instance": {"id": "SW5zdGFuY2U6OTk", "name": "Acme Salesforce Sync"},
    "customer": {"name": "Acme", "external_id": "acme-42"},
    "flow": "Sync",
    "step": "Fetch orders",
    "execution": {"id": "RXhlYzox", "duration": 12.5},
    "message": 'HTTP 503 from "Salesforce"\n<b>',
}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and plays scripted answers."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, *responses: int | tuple[int, dict[str, str]] | tuple[int, dict[str, str], str]) -> None:
        """Queue answers (status, headers, body); once used up, every request gets 200."""
        for r in responses:
            r = (r,) if isinstance(r, int) else r
            self.script.append((r[0], r[1] if len(r) > 1 else {}, r[2] if len(r) > 2 else "ok"))

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.requests) >= n, timeout)
            return list(self.requests)


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            with receiver.cond:
                receiver.requests.append(Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    body, time.monotonic()))
                status, headers, text = receiver.script.pop(0) if receiver.script else (200, {}, "ok")
                receiver.cond.notify_all()
            if receiver.delay:
                time.sleep(receiver.delay)
            data = text.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


FAST_RETRY = RetryPolicy(max_attempts=8, base=0.01, factor=2.0, max_delay=0.05, max_age=60.0)
SECRETS = {"HOOK_KEY": "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=", "PD_ROUTING_KEY": "pd-routing-key-123456",
           "API_TOKEN": "tok-SUPER-secret-9876", "SLACK_PATH": "T000/B000/XXXXSECRET",
           "SMS_ACCOUNT_SID": "AC-sid-4242", "SMS_AUTH_TOKEN": "sms-token-secret-77"}


def make_runtime(secrets: dict[str, str] | None = None, **settings: Any) -> WorkerResources:
    settings.setdefault("retry", FAST_RETRY)
    return WorkerResources(DeliverySettings(**settings), Secrets(SECRETS if secrets is None else secrets))


def alert_event(*destinations: Destination, kind: str = "fired", **fields: Any) -> AlertEvent:
    values: dict[str, Any] = dict(
        id=f"ae-1-{kind}", alert_id="al-123", monitor="Sync failures",
        key={"instance": "SW5zdGFuY2U6OTk", "flow": "Sync"}, kind=kind, at=FIRED_AT,
        severity="critical", destinations=destinations, count=2, value=None, threshold=None,
        event=EVENT, labels={"team": "core"},
        message="{{ monitor.name }}: {{ event.instance.name }} failed",
        fired_at=FIRED_AT, resolved_at=FIRED_AT if kind == "resolved" else None,
    )
    values.update(fields)
    return AlertEvent(**values)


def ruleset(*channels: Any, groups: tuple[Group, ...] = ()) -> RuleSet:
    return RuleSet(channels={(c.kind, c.name): c for c in channels},
                   groups={g.name: g for g in groups})


def one_request(channel: Any, kind: str = "fired", **fields: Any) -> DeliveryRequest:
    """The request for a single named channel."""
    event = alert_event(Destination(channel.kind, channel.name), kind=kind, **fields)
    (request,) = build_requests(event, ruleset(channel), public_url="http://tocsin.test")
    return request


def attempt_once(request: DeliveryRequest, runtime: WorkerResources | None = None, *,
                 ledger: MemoryLedger | None = None) -> Outcome:
    """Claim `request` in a memory ledger, send it once and record the outcome."""
    ledger = ledger if ledger is not None else MemoryLedger()
    now = datetime.now(timezone.utc)
    ledger.add(request, now)
    claim = ledger.claim(request.id, now=now, lease=60.0, token="test-worker")
    assert claim is not None, f"{request.id} is not claimable"
    outcome = attempt(claim, runtime or make_runtime())
    ledger.record(outcome)
    return outcome


__all__ = ["Group", "PagerDutyChannel", "SlackChannel", "WebhookChannel", "Destination"]
