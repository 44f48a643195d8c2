"""Real `tocsin serve` processes against the session's SecantusDB."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

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
