"""Fault injection for end-to-end tests: real servers as OS processes you can kill.

    with SecantusProcess(tmp_path / "db") as db, RedisProcess() as redis, RecordingReceiver() as hook:
        env = {"TOCSIN_MONGODB_URI": db.uri, "TOCSIN_REDIS_URL": redis.url}
        with ServiceProcess(tmp_path, env) as service, WorkerProcess(env) as worker:
            ...                       # POST events to service.url
            db.kill9(); db.restart()  # the database crashes and comes back
            redis.freeze()            # the broker hangs (SIGSTOP) ... redis.thaw()
            wait_for(lambda: ..., timeout=20, message=lambda: service.log())

What each helper promises, and how it fails:
- Every process runs in a session (process group) of its own, bound to 127.0.0.1 on
  a port chosen at construction and kept across restarts, its output appended to a
  log file (never a pipe, so a chatty child cannot block on a full buffer).
- `start()` waits, with a deadline, until the server answers (a pymongo ping, a
  Redis PING, `/healthz`, the worker's start-up line) and raises RuntimeError with
  the log's tail if it does not. A child that exits while starting is started again
  (a few times, within the deadline): after `kill9()` the port may be briefly taken.
- `kill9()` SIGKILLs the whole process group (a multi-process worker's children
  too) and reaps it: a crash, with no shutdown code run.
- `freeze()` / `thaw()` SIGSTOP / SIGCONT the group: the server hangs with its
  sockets open, so clients see timeouts rather than refused connections.
- `terminate()` asks nicely (SIGCONT, then SIGTERM) and SIGKILLs the group after a
  grace period; `stop()` / `__exit__` / garbage collection / interpreter exit do the
  same, so a failing test leaves no process behind.

Also here: `wait_for`; re-exported so tests import one module: the shared-RabbitMQ
helpers `rabbitmq_url` / `require_rabbitmq_url` / `unique_queue` (`rabbitmq`) and the
`RecordingReceiver` webhook endpoint with `new_marker` (`recording_receiver`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Self

from tests.support.rabbitmq import rabbitmq_url, require_rabbitmq_url, unique_queue
from tests.support.recording_receiver import ReceivedRequest, RecordingReceiver, new_marker
from tests.support.servers import free_port, redis_binary

__all__ = [
    "ManagedProcess", "SecantusProcess", "RedisProcess", "ServiceProcess", "WorkerProcess",
    "RecordingReceiver", "ReceivedRequest", "new_marker", "wait_for", "child_env",
    "rabbitmq_url", "require_rabbitmq_url", "unique_queue", "REPO_ROOT",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
START_ATTEMPTS = 5


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05,
             message: str | Callable[[], str] = "condition not met") -> None:
    """Poll `predicate` until it is truthy; AssertionError with `message` after `timeout` s.

    `message` may be a callable, evaluated only on failure (e.g. `lambda: service.log()`).
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"after {timeout:g}s: {text}")
        time.sleep(interval)


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus `TOCSIN_*`, plus `env`, with the repo first on PYTHONPATH."""
    merged = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    merged.update(env or {})
    rest = merged.get("PYTHONPATH")
    merged["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + rest if rest else "")
    merged["PYTHONUNBUFFERED"] = "1"  # log lines reach the file as they happen
    return merged


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the group `proc` leads, unless the leader is already reaped.

    An unreaped leader (even a zombie) keeps its pid, so the group id cannot have been
    reused by an unrelated process; after `wait()` it could be.
    """
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def _kill_group(state: _RunState) -> None:
    """SIGCONT + SIGKILL the current group and reap its leader."""
    if state.proc is not None:
        _signal_group(state.proc, signal.SIGCONT)
        _signal_group(state.proc, signal.SIGKILL)
        with contextlib.suppress(Exception):
            state.proc.wait(10)


def _finalize(state: _RunState) -> None:
    """At garbage collection or interpreter exit: no process left, no owned log dir."""
    _kill_group(state)
    if state.owned_dir is not None:
        shutil.rmtree(state.owned_dir, ignore_errors=True)
        state.owned_dir = None


class _RunState:
    """What the finalizer needs, kept apart from the helper so it can outlive it."""

    def __init__(self, owned_dir: str | None) -> None:
        self.proc: subprocess.Popen | None = None
        self.owned_dir = owned_dir


class ManagedProcess:
    """One server as a process group: start, kill -9, freeze, restart; see the module docstring.

    Subclasses give `argv()` and `ready()` (is it answering yet?).
    """

    name = "process"
    stop_grace = 5.0  # seconds `stop()` lets it shut down cleanly before SIGKILL

    def __init__(self, *, env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
                 log_dir: str | os.PathLike | None = None, start_timeout: float = START_TIMEOUT) -> None:
        owned = None if log_dir is not None else tempfile.mkdtemp(prefix=f"tocsin-{self.name}-")
        self._state = _RunState(owned)
        self._finalizer = weakref.finalize(self, _finalize, self._state)
        self.log_path = Path(log_dir if log_dir is not None else owned) / f"{self.name}-{uuid.uuid4().hex[:6]}.log"
        self.env = dict(env) if env is not None else None
        self.cwd = str(cwd) if cwd is not None else str(self.log_path.parent)
        self.start_timeout = start_timeout
        self.frozen = False

    # -- for subclasses ----------------------------------------------------------------

    def argv(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    # -- state -------------------------------------------------------------------------

    @property
    def proc(self) -> subprocess.Popen | None:
        return self._state.proc

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Everything the process (and its earlier runs) wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def run_log(self) -> str:
        """What the current (latest) run wrote: `log()` after the last start line."""
        return self.log().rpartition(self._start_line)[2]

    @property
    def _start_line(self) -> str:
        return f"--- {self.name} starting: "

    def _tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # -- lifecycle ---------------------------------------------------------------------

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as out:
            out.write(f"{self._start_line}{' '.join(self.argv())}\n".encode())
            out.flush()
            self._state.proc = subprocess.Popen(
                self.argv(), cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.frozen = False

    def start(self) -> Self:
        """Start and wait until `ready()`; RuntimeError with the log's tail if it will not.

        A child that exits while starting (say its port is still held after a kill) is
        started again, up to `START_ATTEMPTS` times, all within `start_timeout`.
        """
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        deadline = time.monotonic() + self.start_timeout
        self._spawn()
        attempts = 1
        while not self._ready_quietly():
            if not self.alive:
                self._reap()
                if attempts >= START_ATTEMPTS:
                    raise RuntimeError(f"{self.name} exited with code {self.proc.returncode} while starting, "
                                       f"{attempts} times; log:\n{self._tail()}")
                time.sleep(0.2 * attempts)  # back off before the next try, not waiting on work
                self._spawn()
                attempts += 1
            elif time.monotonic() >= deadline:
                self.kill9()
                raise RuntimeError(f"{self.name} not ready after {self.start_timeout:g}s; log:\n{self._tail()}")
            time.sleep(0.05)
        return self

    def _ready_quietly(self) -> bool:
        try:
            return self.alive and self.ready()
        except Exception:
            return False

    def _reap(self) -> None:
        proc = self._state.proc
        if proc is not None:
            _signal_group(proc, signal.SIGKILL)  # stragglers of the group, if any
            proc.wait()

    def kill9(self) -> None:
        """SIGKILL the whole process group and wait for the leader: a crash."""
        proc = self._state.proc
        if proc is None:
            return
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        self.frozen = False

    def freeze(self) -> None:
        """SIGSTOP the group: it keeps its sockets but answers nothing until `thaw()`."""
        if self.proc is not None:
            _signal_group(self.proc, signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self.proc is not None:
            _signal_group(self.proc, signal.SIGCONT)
        self.frozen = False

    def terminate(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (after SIGCONT), SIGKILL the group after `timeout`; the exit code."""
        proc = self._state.proc
        if proc is None:
            return None
        if proc.poll() is None:
            self.thaw()
            proc.send_signal(signal.SIGTERM)  # the leader: it shuts its own children down
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        self._reap()
        return proc.returncode

    def restart(self) -> Self:
        """`terminate()` if still running, then `start()` again: same port, same data."""
        if self.alive:
            self.terminate()
        return self.start()

    def stop(self) -> None:
        """End the process (`terminate(stop_grace)`, or kill -9 when that is 0).

        Safe to call twice, whatever state the process is in (frozen, dead, never
        started). `log()` still reads afterwards; an owned log directory goes when
        this object is garbage-collected or the interpreter exits.
        """
        with contextlib.suppress(Exception):
            if self.stop_grace > 0:
                self.terminate(timeout=self.stop_grace)
        _kill_group(self._state)
        self.frozen = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SecantusProcess(ManagedProcess):
    """`secantusd-py` on `storage_dir`, durable (`--sync-on-commit`, journal forced on).

    SecantusDB disables its journal when `SECANTUS_TEST_FAST_STORAGE=1` is in the
    environment (a test-speed switch); the child never inherits it and gets
    `SECANTUS_FORCE_DURABLE=1`, so writes acknowledged before `kill9()` are there after
    `restart()`.
    """

    name = "secantus"
    stop_grace = 0.0  # its writes are durable anyway; a clean shutdown costs ~2 s

    def __init__(self, storage_dir: str | os.PathLike, *, port: int | None = None,
                 log_dir: str | os.PathLike | None = None, start_timeout: float = START_TIMEOUT) -> None:
        env = {k: v for k, v in os.environ.items() if k != "SECANTUS_TEST_FAST_STORAGE"}
        env["SECANTUS_FORCE_DURABLE"] = "1"
        super().__init__(env=env, log_dir=log_dir, start_timeout=start_timeout)
        self.storage_dir = Path(storage_dir)
        self.port = port or free_port()
        # directConnection: talk to this one server whatever its `hello` says;
        # retryWrites=false: SecantusDB is much slower with retryable writes.
        self.uri = f"mongodb://127.0.0.1:{self.port}/?retryWrites=false&directConnection=true"

    def argv(self) -> list[str]:
        return [_venv_script("secantusd-py"), "--storage-path", str(self.storage_dir), "--port", str(self.port),
                "--standalone", "--sync-on-commit", "--host", "127.0.0.1"]

    def ready(self) -> bool:
        from pymongo import MongoClient

        if not _listening(self.port):  # cheap, and spares pymongo's selection wait
            return False
        client: MongoClient = MongoClient(self.uri, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        finally:
            client.close()


class RedisProcess(ManagedProcess):
    """Its own `redis-server` without persistence: a restart comes back empty."""

    name = "redis"
    stop_grace = 0.0  # nothing to keep

    def __init__(self, *, port: int | None = None, log_dir: str | os.PathLike | None = None,
                 start_timeout: float = START_TIMEOUT) -> None:
        super().__init__(log_dir=log_dir, start_timeout=start_timeout)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        return [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.cwd]

    def ready(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def restart_empty(self) -> Self:
        """Crash (kill -9) and start again on the same port, every key lost."""
        self.kill9()
        self.start()
        return self


class ServiceProcess(ManagedProcess):
    """`tocsin serve` in `cwd` on 127.0.0.1:`port`; ready when `/healthz` answers 200.

    `env` is added to `child_env()` (no inherited `TOCSIN_*`), e.g. TOCSIN_MONGODB_URI.
    """

    name = "serve"

    def __init__(self, cwd: str | os.PathLike, env: Mapping[str, str], port: int | None = None, *,
                 log_dir: str | os.PathLike | None = None, start_timeout: float = START_TIMEOUT) -> None:
        super().__init__(env=child_env(env), cwd=cwd, log_dir=log_dir, start_timeout=start_timeout)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    def ready(self) -> bool:
        import httpx

        return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200


class WorkerProcess(ManagedProcess):
    """`tocsin worker --processes N --threads T`; ready once its start-up line is logged.

    `ready_line=None` skips that wait (start() then only checks the process is alive).
    `cwd` defaults to the log directory, so no stray `.env` is read.
    """

    name = "worker"

    def __init__(self, env: Mapping[str, str], processes: int = 1, threads: int = 8, *,
                 ready_line: str | None = "tocsin worker:", cwd: str | os.PathLike | None = None,
                 log_dir: str | os.PathLike | None = None, start_timeout: float = START_TIMEOUT) -> None:
        super().__init__(env=child_env(env), cwd=cwd, log_dir=log_dir, start_timeout=start_timeout)
        self.processes, self.threads, self.ready_line = processes, threads, ready_line

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "service.cli", "worker", "--processes", str(self.processes),
                "--threads", str(self.threads)]

    def ready(self) -> bool:
        return self.ready_line is None or self.ready_line in self.run_log()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _venv_script(name: str) -> str:
    """A console script installed beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is neither beside {sys.executable} nor on PATH")
    return found


@contextlib.contextmanager
def keyed_service(root: Path, rules: str, events: list[dict], *, admin: str, ingest: str,
                  env: Mapping[str, str] | None = None) -> Iterator[ServiceProcess]:
    """`tocsin serve` (embedded) in `root` with one rule file, an admin and an ingest key,
    and `events` posted (202) before it is handed over."""
    import httpx

    (root / "rules").mkdir()
    (root / "rules" / "main.rules").write_text(rules)
    settings = {"TOCSIN_API_KEYS": f"{admin}:admin,{ingest}:ingest", "TOCSIN_RULES_DIR": str(root / "rules"),
                "TOCSIN_DATA_DIR": str(root / "data"), **(env or {})}
    with ServiceProcess(root, settings, log_dir=root) as served:
        r = httpx.post(f"{served.url}/v1/events", json=events, headers={"Authorization": f"Bearer {ingest}"})
        assert r.status_code == 202, r.text
        yield served
