"""The http.client transport: keep-alive reuse, stale connections, timeouts, errors."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from delivery.ssrf import AddressPolicy
from delivery.transport import LiteClient, guarded_transport
from tests.support.servers import free_port


def _client() -> LiteClient:
    return LiteClient(guarded_transport(AddressPolicy()), user_agent="test")


def _raw_server(handle) -> tuple[socket.socket, int]:
    """A TCP server on 127.0.0.1 running `handle(conn)` for each connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return server, server.getsockname()[1]


def test_keep_alive_connection_is_reused(receiver):
    client = _client()
    for _ in range(3):
        assert client.post(receiver.url, content=b"{}").status_code == 200
    ports = {r.headers.get("host") for r in receiver.requests}
    assert len(ports) == 1
    assert sum(len(v) for v in client.transport._idle.values()) == 1


def test_stale_keep_alive_connection_is_retried_on_a_fresh_one():
    connections = []

    def one_answer_then_close(conn: socket.socket) -> None:
        connections.append(conn)
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        conn.close()  # without `Connection: close`: the client pools a dead connection

    server, port = _raw_server(one_answer_then_close)
    client = _client()
    try:
        assert client.post(f"http://127.0.0.1:{port}/", content=b"1").status_code == 200
        assert client.post(f"http://127.0.0.1:{port}/", content=b"2").status_code == 200
        assert len(connections) == 2
    finally:
        server.close()


def test_read_timeout_is_an_httpx_timeout():
    server, port = _raw_server(lambda conn: conn.recv(65536))  # reads, never answers
    try:
        with pytest.raises(httpx.ReadTimeout):
            _client().post(f"http://127.0.0.1:{port}/", content=b"{}", timeout=0.2)
    finally:
        server.close()


def test_connection_refused_is_a_connect_error():
    with pytest.raises(httpx.ConnectError):
        _client().post(f"http://127.0.0.1:{free_port()}/", content=b"{}")


def test_basic_auth_form_and_headers(receiver):
    _client().post(receiver.url + "/m?x=1", data={"To": "+1 555"}, auth=("u", "p"),
                   headers={"X-Test": "yes"})
    (got,) = receiver.requests
    assert got.path == "/m?x=1"
    assert got.body == b"To=%2B1+555"
    assert got.headers["authorization"] == "Basic dTpw"
    assert got.headers["x-test"] == "yes" and got.headers["user-agent"] == "test"
