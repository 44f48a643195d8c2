"""The embedded database: SecantusDB on `TOCSIN_DATA_DIR` when no MongoDB URI is set.

SecantusDB (GPL) is the optional extra `tocsin[embedded]`; it is imported only here and
only when needed, so a production install never loads it.

It runs in a child process of its own (`service.embedded_server`): SecantusDB is pure
Python, and in the service's process it shared one interpreter lock with the API, the
evaluator and the delivery workers. The child stops when its parent goes, even on kill -9;
a stale one found through `<data_dir>.pid` is killed before a new one starts.

Settings (why: docs/performance.md § Embedded database settings):
- durable, with an fsync of the WiredTiger journal at every commit the service makes:
  `.uri` carries `journal=true` (write concern `j: true`), so the 202 is sent after the
  write is on disk and accepted events, alert events and ledger entries survive a crash
  of the process (and of the machine). Without the fsync SecantusDB keeps the journal
  record in a buffer for up to ~100 ms, and a killed process loses acknowledged writes
  (measured; see tests/service/test_embedded.py). `SECANTUS_TEST_FAST_STORAGE` cannot
  turn this off. Writes whose durability a later synced write provides opt out
  (`Database.unsynced()`, the delivery ledger's claims and outcomes): with the server's
  own `sync_on_commit` every commit would fsync, those too.
- standalone (no replica set, so no oplog write per document): Tocsin uses neither
  change streams nor transactions.
- test commands (`configureFailPoint`) off, as on mongod.
- reachable by this service only: SecantusDB listens on a loopback TCP port (it has no
  Unix socket), which any local user can connect to, so authentication is on and the
  one user's password is generated for each start (`secrets.token_urlsafe`, 256 bits),
  handed to the child on its stdin and kept only in `.uri` (`service.embedded_server`).
  Without it a connection is refused every command but the handshake. The data
  directory is made owner-only (0700), so the files cannot be read around the server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import quote

from service.embedded_server import AUTH_DB, USER


def with_retry_writes_off(uri: str) -> str:
    """Append `retryWrites=false`: SecantusDB slows down sharply with retryable writes."""
    if "retryWrites=" in uri:
        return uri
    sep = "&" if "?" in uri else ("?" if uri.endswith("/") else "/?")
    return f"{uri}{sep}retryWrites=false"


def with_credentials(uri: str, password: str) -> str:
    """`mongodb://host:port/…` with the service's user, its password and where it lives."""
    scheme, rest = uri.split("://", 1)
    host, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    params = f"authSource={AUTH_DB}&authMechanism=SCRAM-SHA-256" + (f"&{query}" if query else "")
    return f"{scheme}://{USER}:{quote(password, safe='')}@{host}/?{params}"


def server_options(data_dir: str, *, ttl_sweep_seconds: float, sync_on_commit: bool) -> dict[str, Any]:
    """Keyword arguments of `SecantusDBServer` for Tocsin's embedded database."""
    options: dict[str, Any] = dict(
        storage_path=data_dir, host="127.0.0.1", port=0, ttl_sweep_seconds=ttl_sweep_seconds,
        replica_set_name=None, enable_test_commands=False, require_auth=True,
    )
    if data_dir != ":memory:":  # `:memory:` has no journal to speak of
        options.update(durable=True, sync_on_commit=sync_on_commit)
    return options


class EmbeddedDatabase:
    """A SecantusDB server process on a local directory (`:memory:` for tests); `.uri`
    once started."""

    def __init__(self, data_dir: str, *, ttl_sweep_seconds: float = 60.0, sync_on_commit: bool = False,
                 start_timeout: float = 60.0) -> None:
        self.data_dir = data_dir
        self.ttl_sweep_seconds = ttl_sweep_seconds
        self.sync_on_commit = sync_on_commit
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen | None = None
        self.uri = ""

    @property
    def process(self) -> subprocess.Popen | None:
        """The database's process while it runs."""
        return self._proc

    @property
    def pid_file(self) -> str | None:
        return None if self.data_dir == ":memory:" else os.path.abspath(self.data_dir) + ".pid"

    def start(self) -> str:
        try:
            import secantus  # noqa: F401 - only to fail early with a clear message
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "TOCSIN_MONGODB_URI is unset and the embedded database is not installed: "
                "pip install 'tocsin[embedded]' or point TOCSIN_MONGODB_URI at MongoDB"
            ) from exc
        if self.data_dir != ":memory:":
            os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
            with contextlib.suppress(PermissionError):  # a directory of another owner keeps its mode
                os.chmod(self.data_dir, 0o700)  # also one made before with the umask's 0755
            _kill_stale(self.pid_file)
        argv = [sys.executable, "-m", "service.embedded_server", self.data_dir,
                "--ttl-sweep-seconds", str(self.ttl_sweep_seconds)]
        if self.sync_on_commit:
            argv.append("--sync-on-commit")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        password = secrets.token_urlsafe(32)
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._proc.stdin.write(password + "\n")
        self._proc.stdin.close()
        uri = _ready_line(self._proc, self.start_timeout)
        if self.pid_file:
            with open(self.pid_file, "w") as f:
                f.write(str(self._proc.pid))
        self.uri = with_retry_writes_off(with_credentials(uri, password)) + "&journal=true"
        return self.uri

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if self.pid_file:
            with contextlib.suppress(OSError):
                os.unlink(self.pid_file)


def _ready_line(proc: subprocess.Popen, timeout: float) -> str:
    """The URI from the child's `ready <uri>` line (RuntimeError if it never comes)."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0].startswith("ready "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the embedded database did not start (exit code {proc.returncode})")
    return line[0].split(" ", 1)[1].strip()


def _kill_stale(pid_file: str | None) -> None:
    """Kill a database process left by a `tocsin serve` that died (it holds the files)."""
    if not pid_file or not os.path.exists(pid_file):
        return
    with contextlib.suppress(OSError, ValueError):
        with open(pid_file) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"service.embedded_server" not in f.read():
                return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)  # a process we do not own cannot be waited for
