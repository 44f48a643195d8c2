"""Where alerts live: the `Store` protocol and its in-memory implementation.

The engine reads and writes alerts only through a `Store`; everything else it keeps
(windows, timers, expected keys) is rebuilt by replay or carried in a snapshot. The
store also remembers which alerts changed since the caller last asked (`drain_changed`),
so a service can persist exactly the transitions.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from engine.model import Alert


class Store(Protocol):
    def get(self, alert_id: str) -> Alert | None: ...
    def put(self, alert: Alert) -> None: ...
    def delete(self, alert_id: str) -> None: ...
    def all(self) -> Iterable[Alert]: ...
    def drain_changed(self) -> list[Alert]: ...


class MemoryStore:
    """A dict of alerts by id, plus the ids changed since the last `drain_changed`."""

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._changed: dict[str, None] = {}

    def get(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def put(self, alert: Alert) -> None:
        self._alerts[alert.id] = alert
        self._changed[alert.id] = None

    def delete(self, alert_id: str) -> None:
        self._alerts.pop(alert_id, None)
        self._changed.pop(alert_id, None)

    def all(self) -> Iterable[Alert]:
        return list(self._alerts.values())

    def drain_changed(self) -> list[Alert]:
        out = [self._alerts[i] for i in self._changed if i in self._alerts]
        self._changed.clear()
        return out
