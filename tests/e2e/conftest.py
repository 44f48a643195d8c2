"""Real `tocsin serve` processes against the session's SecantusDB, and killable servers.

The fixtures below hand each test its own server processes from
`tests.support.processes` (stopped, and never orphaned, whatever the outcome).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import RecordingReceiver, RedisProcess, SecantusProcess
from tests.support.servers import free_port


@contextlib.contextmanager
def tocsin_serve(cwd, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start `tocsin serve` in `cwd`; yields (process, base URL) once /healthz answers."""
    port = free_port()
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}, **env}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                            cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"tocsin serve exited: {proc.stdout.read()}")
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@pytest.fixture
def secantus_process(tmp_path) -> Iterator[SecantusProcess]:
    """A durable SecantusDB of this test's own in `tmp_path/secantus`; `.kill9()`, `.restart()`."""
    with SecantusProcess(tmp_path / "secantus", log_dir=tmp_path) as db:
        yield db


@pytest.fixture
def redis_process(tmp_path) -> Iterator[RedisProcess]:
    """A Redis of this test's own; `.kill9()`, `.restart_empty()`, `.freeze()` / `.thaw()`."""
    with RedisProcess(log_dir=tmp_path) as server:
        yield server


@pytest.fixture
def recording_receiver() -> Iterator[RecordingReceiver]:
    """A webhook endpoint on 127.0.0.1 that records every request (`.url`, `.markers()`)."""
    with RecordingReceiver() as receiver:
        yield receiver


@pytest.fixture
def tocsin(request, service, monkeypatch, capsys):
    """Run `tocsin ARGS…` in-process against the test module's `service` fixture, with
    TOCSIN_URL and TOCSIN_API_KEY (the module's `ADMIN` key) set: (exit code, stdout, stderr)."""
    from service.cli import main

    monkeypatch.setenv("TOCSIN_URL", service.url)
    monkeypatch.setenv("TOCSIN_API_KEY", request.module.ADMIN)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run
