"""The embedded database's own process: `python -m service.embedded_server DATA_DIR`.

`tocsin serve` runs SecantusDB (pure Python) in a child process rather than in its own
threads, so the database and the service each have an interpreter (and a core) of
their own instead of sharing one lock. The child prints `ready <uri>` once it accepts
connections, then serves until SIGTERM/SIGINT or until its parent is gone (it checks
five times a second), so a `tocsin serve` killed with -9 does not leave it holding the
data directory.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.embedded_server")
    parser.add_argument("data_dir")
    parser.add_argument("--ttl-sweep-seconds", type=float, default=60.0)
    parser.add_argument("--sync-on-commit", action="store_true")
    args = parser.parse_args(argv)
    from secantus import SecantusDBServer

    from service.embedded import server_options

    parent = os.getppid()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = SecantusDBServer(**server_options(args.data_dir, ttl_sweep_seconds=args.ttl_sweep_seconds,
                                               sync_on_commit=args.sync_on_commit))
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
