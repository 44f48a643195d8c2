"""The embedded database: SecantusDB on `TOCSIN_DATA_DIR` when no MongoDB URI is set.

SecantusDB (GPL) is the optional extra `tocsin[embedded]`; it is imported only here and
only when needed, so a production install never loads it.
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


class EmbeddedDatabase:
    """A SecantusDB server on a local directory (`:memory:` for tests); `.uri` once started."""

    def __init__(self, data_dir: str, *, ttl_sweep_seconds: float = 60.0) -> None:
        self.data_dir = data_dir
        self.ttl_sweep_seconds = ttl_sweep_seconds
        self._server: Any = None
        self.uri = ""

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
        self._server = SecantusDBServer(
            storage_path=self.data_dir, port=0, ttl_sweep_seconds=self.ttl_sweep_seconds
        )
        self._server.start()
        self.uri = with_retry_writes_off(self._server.uri)
        return self.uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
