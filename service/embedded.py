"""The embedded database: SecantusDB on `TOCSIN_DATA_DIR` when no MongoDB URI is set.

SecantusDB (GPL) is the optional extra `tocsin[embedded]`; it is imported only here and
only when needed, so a production install never loads it.

Settings (why: docs/performance.md § Embedded database settings):
- durable, with an fsync of the WiredTiger journal at every commit the service makes:
  `.uri` carries `journal=true` (write concern `j: true`), so the 202 is sent after the
  write is on disk and accepted events, alert events and ledger entries survive a crash
  of the process (and of the machine). Without the fsync SecantusDB keeps the journal
  record in a buffer for up to ~100 ms, and a killed process loses acknowledged writes
  (measured; see tests/service/test_embedded.py). `SECANTUS_TEST_FAST_STORAGE` cannot
  turn this off. `.unsynced_uri` (no `j`) is for the delivery ledger's claims and
  outcomes only: losing one in a crash means an entry is sent again with the same
  idempotency key, never lost, and it saves an fsync per delivery. (With the server's
  own `sync_on_commit` every commit would fsync, those too.)
- standalone (no replica set, so no oplog write per document): Tocsin uses neither
  change streams nor transactions.
- test commands (`configureFailPoint`) off, as on mongod.
"""

from __future__ import annotations

import os
from typing import Any


def with_retry_writes_off(uri: str) -> str:
    """Append `retryWrites=false`: SecantusDB slows down sharply with retryable writes."""
    if "retryWrites=" in uri:
        return uri
    sep = "&" if "?" in uri else ("?" if uri.endswith("/") else "/?")
    return f"{uri}{sep}retryWrites=false"


def server_options(data_dir: str, *, ttl_sweep_seconds: float, sync_on_commit: bool) -> dict[str, Any]:
    """Keyword arguments of `SecantusDBServer` for Tocsin's embedded database."""
    options: dict[str, Any] = dict(
        storage_path=data_dir, port=0, ttl_sweep_seconds=ttl_sweep_seconds,
        replica_set_name=None, enable_test_commands=False,
    )
    if data_dir != ":memory:":  # `:memory:` has no journal to speak of
        options.update(durable=True, sync_on_commit=sync_on_commit)
    return options


class EmbeddedDatabase:
    """A SecantusDB server on a local directory (`:memory:` for tests); `.uri` once started."""

    def __init__(self, data_dir: str, *, ttl_sweep_seconds: float = 60.0, sync_on_commit: bool = False) -> None:
        self.data_dir = data_dir
        self.ttl_sweep_seconds = ttl_sweep_seconds
        self.sync_on_commit = sync_on_commit
        self._server: Any = None
        self.uri = ""
        self.unsynced_uri = ""

    def start(self) -> str:
        try:
            from secantus import SecantusDBServer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "TOCSIN_MONGODB_URI is unset and the embedded database is not installed: "
                "pip install 'tocsin[embedded]' or point TOCSIN_MONGODB_URI at MongoDB"
            ) from exc
        if self.data_dir != ":memory:":
            os.makedirs(self.data_dir, exist_ok=True)
        self._server = SecantusDBServer(**server_options(
            self.data_dir, ttl_sweep_seconds=self.ttl_sweep_seconds, sync_on_commit=self.sync_on_commit))
        self._server.start()
        self.unsynced_uri = with_retry_writes_off(self._server.uri)
        self.uri = self.unsynced_uri + "&journal=true"
        return self.uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
