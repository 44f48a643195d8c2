"""A loopback webhook receiver that records every request and misbehaves on demand.

    with RecordingReceiver() as receiver:          # listening on 127.0.0.1:<free port>
        ... configure a webhook with receiver.url ...
        receiver.fail_until(time.monotonic() + 3)  # 500 for three seconds, then 200
        assert receiver.wait_until(lambda: new_marker_seen, timeout=20)

Modes (switchable while requests arrive; a request follows the mode of its arrival):
- `ok()`: 200 at once (the default).
- `slow(seconds)`: wait, then 200. A sender with a shorter timeout sees a timeout,
  but the request is still recorded (and marked answered 200 once the wait is over).
- `fail_until(deadline, status=500)`: answer `status` while `time.monotonic() < deadline`,
  then 200.
- `hang()`: never answer. The handler thread parks until the receiver closes, then
  drops the connection; `close()` does not wait for it (daemon threads).

Every request is recorded on arrival, before the mode acts, so a hung or failed
attempt is visible too; `status` is filled in as the answer is written (None if
none was). "Delivered" below means answered 2xx: that is what a sender counts as
success, though with `slow()` the sender may have given up before the answer came.

Markers: tests put a unique `new_marker()` string in each event (say in
`instance.name` or `message`); `markers()` finds every marker anywhere in the
delivered bodies (the standard alert document carries the triggering event under
`event`, templates may quote it in text), so the receiver needs no knowledge of the
body's layout.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARKER = re.compile(r"mk_[0-9a-f]{16}")
HANG_LIMIT_SECONDS = 3600.0  # "never" for a test; bounded so a leaked thread ends eventually


def new_marker() -> str:
    """A fresh marker (`mk_` + 16 hex digits) that `RecordingReceiver.markers()` recognises."""
    return f"mk_{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as it arrived; `status` is what was answered (None: no answer yet/ever)."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    headers: dict[str, str]
    idempotency_key: str | None
    webhook_id: str | None
    body: object  # parsed JSON, or None when the body was empty or not JSON
    raw: bytes
    status: int | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class _Mode:
    kind: str  # "ok" | "slow" | "fail" | "hang"
    seconds: float = 0.0
    deadline: float = 0.0
    status: int = 200


def _strings(value: object) -> list[str]:
    """Every string in a JSON value (keys included), depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class RecordingReceiver:
    """An HTTP server on 127.0.0.1 recording every request; see the module docstring."""

    def __init__(self, path: str = "/hook") -> None:
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._mode = _Mode("ok")
        self._closing = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True  # a hung handler must not hold up close()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base_url + path
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="recording-receiver", daemon=True)
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> RecordingReceiver:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def close(self) -> None:
        """Stop serving; hung and slow handlers are released and not waited for."""
        self._closing.set()
        if self._started:
            self.server.shutdown()
            self._started = False
        self.server.server_close()

    def __enter__(self) -> RecordingReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- modes -------------------------------------------------------------------------

    def ok(self) -> None:
        self._set_mode(_Mode("ok"))

    def slow(self, seconds: float) -> None:
        self._set_mode(_Mode("slow", seconds=seconds))

    def fail_until(self, deadline: float, status: int = 500) -> None:
        """Answer `status` until `time.monotonic()` reaches `deadline`, then 200."""
        self._set_mode(_Mode("fail", deadline=deadline, status=status))

    def hang(self) -> None:
        self._set_mode(_Mode("hang"))

    def _set_mode(self, mode: _Mode) -> None:
        with self._lock:
            self._mode = mode

    # -- what arrived ------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._requests)

    def delivered(self) -> list[ReceivedRequest]:
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.requests if r.delivered]

    def keys(self) -> list[str]:
        """`Idempotency-Key` of every request that had one, in arrival order (repeats kept)."""
        return [r.idempotency_key for r in self.requests if r.idempotency_key is not None]

    def distinct_keys(self) -> set[str]:
        return set(self.keys())

    def markers(self, *, delivered_only: bool = True) -> list[str]:
        """Markers found in the bodies, in arrival order; one per request and marker.

        A marker repeated across requests (a redelivery) appears once per request, so
        `Counter(receiver.markers())` shows duplicates. Only 2xx-answered requests by
        default; `delivered_only=False` includes failed and unanswered attempts.
        """
        found: list[str] = []
        for r in self.requests:
            if delivered_only and not r.delivered:
                continue
            text = "\n".join(_strings(r.body)) if r.body is not None else r.raw.decode("utf-8", "replace")
            found.extend(dict.fromkeys(MARKER.findall(text)))
        return found

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Poll `predicate` every 50 ms until it holds (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    # -- serving -----------------------------------------------------------------------

    def _record(self, request: ReceivedRequest) -> tuple[int, _Mode]:
        with self._lock:
            self._requests.append(request)
            return len(self._requests) - 1, self._mode

    def _answered(self, index: int, status: int) -> None:
        with self._lock:
            self._requests[index] = dataclasses.replace(self._requests[index], status=status)

    def _status_for(self, mode: _Mode) -> int | None:
        """Carry out `mode` for one request; the status to answer, or None to answer nothing."""
        if mode.kind == "slow":
            self._closing.wait(mode.seconds)
        elif mode.kind == "fail" and time.monotonic() < mode.deadline:
            return mode.status
        elif mode.kind == "hang":
            self._closing.wait(HANG_LIMIT_SECONDS)
            return None
        return 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                index, mode = receiver._record(ReceivedRequest(
                    at=time.monotonic(), method=self.command, path=self.path, headers=dict(self.headers),
                    idempotency_key=self.headers.get("Idempotency-Key"), webhook_id=self.headers.get("webhook-id"),
                    body=body, raw=raw))
                status = receiver._status_for(mode)
                if status is None:
                    self.close_connection = True
                    return
                # Recorded before it is written: a sender that saw the answer finds it here.
                receiver._answered(index, status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _handle  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                pass

        return Handler
