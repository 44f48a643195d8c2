"""A TCP forwarder to run as a process of its own, so a test can freeze a shared server.

    python -m tests.e2e.tcp_proxy LISTEN_PORT TARGET_HOST TARGET_PORT

The machine's RabbitMQ is shared by parallel tests and must not be stopped; clients
pointed at this proxy instead see exactly what a frozen broker looks like when the
proxy is SIGSTOPped (connections stay open, nothing is answered, new connections wait
in the listen backlog) and carry on when it is SIGCONTed. One thread pair per
connection; a side closing closes the other.
"""

from __future__ import annotations

import socket
import sys
import threading


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listen_port: int, target: tuple[str, int]) -> None:
    server = socket.create_server(("127.0.0.1", listen_port), backlog=128, reuse_port=False)
    print(f"tcp proxy: 127.0.0.1:{listen_port} -> {target[0]}:{target[1]}", flush=True)
    while True:
        client, _ = server.accept()
        try:
            upstream = socket.create_connection(target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), (sys.argv[2], int(sys.argv[3])))
