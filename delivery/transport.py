"""A light httpx transport on `http.client`, with the SSRF guard at connect time.

httpx's default transport (httpcore + h11) costs about 2.5 ms of CPU per request on
a small machine once dozens of worker threads share it; `http.client` costs a fraction
of that, which is what lets two worker processes deliver over 1,000 notifications/s.
Channels still use the ordinary `httpx.Client` API on top of it.

Every new connection resolves the host, checks each address with the `AddressPolicy`
(`delivery.ssrf`) and connects to a checked address itself, so the name cannot resolve
differently between check and connect. Idle keep-alive connections are pooled per
(scheme, host, port); a request that fails on a reused connection before any answer is
retried once on a fresh one. Redirects are never followed (http.client does not), and
response bodies are read up to `MAX_RESPONSE_BYTES`.

Header values may come from event data, so `LiteClient` makes every one sendable
(`header_value`): control characters (CR, LF, TAB, NUL, DEL …) become spaces, so a value
can neither split nor fold a header, and non-ASCII text goes out as its UTF-8 bytes
(RFC 9110 § 5.5 leaves octets above 0x7F to the recipient, and UTF-8 is what receivers
decode in practice), never an error.
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import ssl
import threading
from collections import defaultdict

import httpx

from delivery.ssrf import AddressPolicy, Resolver, resolve_checked, system_resolver

MAX_RESPONSE_BYTES = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
          http.client.CannotSendRequest)


class _GuardedConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, policy: AddressPolicy, resolve: Resolver,
                 timeout: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=timeout)
        self._policy, self._resolve, self._tls = policy, resolve, tls

    def connect(self) -> None:
        last: OSError | None = None
        for address in resolve_checked(self._policy, self.host, self.port, self._resolve):
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as exc:
                last = exc
        else:
            raise last or OSError(f"no address for {self.host}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock

    def _send_output(self, message_body=None, encode_chunked=False):  # noqa: ANN001
        # http.client sends the head and the body in two writes; one write halves the
        # syscalls and packets per delivery (bodies here are always in-memory bytes).
        self._buffer.extend((b"", b""))
        head = b"\r\n".join(self._buffer)
        del self._buffer[:]
        self.send(head + message_body if message_body else head)


def header_value(value: str | bytes) -> bytes:
    """A header value as the bytes to send: controls -> spaces, trimmed, UTF-8."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _CONTROL.sub(" ", value).strip()
    return text.encode("utf-8", "replace")  # "replace": a lone surrogate becomes "?"


class LiteClient:
    """The subset of `httpx.Client` the channels use, without cookies, redirects or
    hooks: builds an `httpx.Request`, hands it to the transport, reads the response."""

    def __init__(self, transport: httpx.BaseTransport, *, user_agent: str) -> None:
        self.transport = transport
        self.user_agent = user_agent

    def request(self, method: str, url: str, *, content: bytes | None = None,
                data: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float = 10.0) -> httpx.Response:
        merged = {"user-agent": self.user_agent, "accept": "*/*", **(headers or {})}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            merged["authorization"] = f"Basic {token}"
        merged = {name: header_value(value) for name, value in merged.items()}
        request = httpx.Request(method, url, content=content, data=data, headers=merged,
                                extensions={"timeout": {"connect": timeout, "read": timeout,
                                                        "write": timeout, "pool": timeout}})
        response = self.transport.handle_request(request)
        response.read()
        return response

    def post(self, url: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.transport.close()


class GuardedTransport(httpx.BaseTransport):
    """Thread-safe pooled HTTP/1.1 transport for `httpx.Client(transport=…)`."""

    def __init__(self, policy: AddressPolicy, *, resolve: Resolver = system_resolver,
                 max_idle_per_host: int = 256) -> None:
        self.policy = policy
        self.resolve = resolve
        self.max_idle = max_idle_per_host
        self._tls = ssl.create_default_context()
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, int], list[_GuardedConnection]] = defaultdict(list)

    def _checkout(self, key: tuple[str, str, int], timeout: float) -> tuple[_GuardedConnection, bool]:
        with self._lock:
            idle = self._idle[key]
            if idle:
                conn = idle.pop()
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn, True
        scheme, host, port = key
        tls = self._tls if scheme == "https" else None
        return _GuardedConnection(host, port, policy=self.policy, resolve=self.resolve,
                                  timeout=timeout, tls=tls), False

    def _checkin(self, key: tuple[str, str, int], conn: _GuardedConnection) -> None:
        with self._lock:
            if len(self._idle[key]) < self.max_idle:
                self._idle[key].append(conn)
                return
        conn.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout") or {}
        timeout = max((t for t in timeouts.values() if t), default=10.0)
        body = request.read()
        for _ in range(2):
            conn, reused = self._checkout(key, timeout)
            try:
                return self._exchange(conn, key, request, body)
            except _STALE as exc:
                conn.close()
                if not reused:
                    raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
        raise httpx.RemoteProtocolError("connection closed twice", request=request)  # pragma: no cover

    def _exchange(self, conn: _GuardedConnection, key: tuple[str, str, int],
                  request: httpx.Request, body: bytes) -> httpx.Response:
        try:
            conn.putrequest(request.method, request.url.raw_path.decode("ascii"),
                            skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.raw:
                conn.putheader(name.decode("latin-1"), value.decode("latin-1"))
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = response.read(MAX_RESPONSE_BYTES)
        except _STALE:
            raise
        except BaseException as exc:
            mapped = _mapped(exc, conn, request)  # before close(): it looks at conn.sock
            conn.close()
            raise mapped from exc
        if response.will_close or not response.isclosed():
            conn.close()
        else:
            self._checkin(key, conn)
        return httpx.Response(response.status, headers=response.getheaders(),
                              stream=httpx.ByteStream(data), request=request)

    def close(self) -> None:
        with self._lock:
            for conns in self._idle.values():
                for conn in conns:
                    conn.close()
            self._idle.clear()


def _mapped(exc: BaseException, conn: _GuardedConnection, request: httpx.Request) -> BaseException:
    """httpx's exception for what http.client/socket raised (others pass unchanged)."""
    connected = conn.sock is not None
    if isinstance(exc, (socket.timeout, TimeoutError)):
        cls = httpx.ReadTimeout if connected else httpx.ConnectTimeout
        return cls(f"timed out after {conn.timeout}s", request=request)
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request)
    if isinstance(exc, ssl.SSLError):
        return httpx.ConnectError(f"TLS: {exc}", request=request)
    if isinstance(exc, OSError):
        cls = httpx.ReadError if connected else httpx.ConnectError
        return cls(f"{type(exc).__name__}: {exc}", request=request)
    return exc


def guarded_transport(policy: AddressPolicy, *, resolve: Resolver = system_resolver,
                      max_connections: int = 256) -> GuardedTransport:
    """The transport every delivery client uses (see the module docstring)."""
    return GuardedTransport(policy, resolve=resolve, max_idle_per_host=max_connections)
