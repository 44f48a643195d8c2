"""The embedded database's own process: `python -m service.embedded_server DATA_DIR`.

`tocsin serve` runs SecantusDB (pure Python) in a child process rather than in its own
threads, so the database and the service each have an interpreter (and a core) of
their own instead of sharing one lock. The child prints `ready <uri>` once it accepts
connections, then serves until SIGTERM/SIGINT or until its parent is gone (it checks
five times a second), so a `tocsin serve` killed with -9 does not leave it holding the
data directory.

Access control: the server listens on a loopback TCP port (SecantusDB has no Unix
socket), which every local user can reach, so it runs with authentication on and one
user, `tocsin` (role `root`), whose password the parent generates for each start and
writes as the first line of the child's stdin: never in argv or the environment (other
users see neither, but a password there leaks into `ps` and crash reports). The record
is replaced at every start, so the password of an earlier run opens nothing. A
connection without it can say `hello` and authenticate, nothing more (code 13).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

USER = "tocsin"
AUTH_DB = "admin"


def install_user(storage: Any, password: str) -> None:
    """Create (or replace) the service's user with SCRAM-SHA-256 credentials for `password`."""
    from secantus.auth import SCRAM_SHA_256, derive_credentials

    storage.add_user(AUTH_DB, USER, {
        "_id": f"{AUTH_DB}.{USER}", "user": USER, "db": AUTH_DB,
        "credentials": derive_credentials(password, mechanism=SCRAM_SHA_256, username=USER).to_doc(),
        "roles": [{"role": "root", "db": AUTH_DB}], "mechanisms": [SCRAM_SHA_256],
    }, replace=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.embedded_server",
                                     description="the password of the `tocsin` user is read from stdin")
    parser.add_argument("data_dir")
    parser.add_argument("--ttl-sweep-seconds", type=float, default=60.0)
    parser.add_argument("--sync-on-commit", action="store_true")
    args = parser.parse_args(argv)
    password = sys.stdin.readline().strip()
    if not password:
        print("the embedded database needs its password as the first line of stdin", file=sys.stderr)
        return 2
    from secantus import SecantusDBServer

    from service.embedded import server_options
    from service.embedded_tuning import repair

    repair()

    parent = os.getppid()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = SecantusDBServer(**server_options(args.data_dir, ttl_sweep_seconds=args.ttl_sweep_seconds,
                                               sync_on_commit=args.sync_on_commit))
    install_user(server.storage, password)  # before start: no connection without it, ever
    server.start()
    try:
        print(f"ready {server.uri}", flush=True)
        with open(os.devnull, "w") as devnull:  # nobody reads the pipe any more
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        while not stop.wait(0.2):
            if os.getppid() != parent:
                break
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
