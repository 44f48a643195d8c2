"""The delivery audit: where every attempt and final outcome is recorded.

The service implements `DeliveryLog` on MongoDB (`deliveries` collection, the event
stream); `MemoryDeliveryLog` serves tests, the benchmark and `tocsin test`.

- `already_sent(delivery_id)`: True once an outcome `sent` was recorded (workers check
  it before every attempt, which makes re-queued deliveries harmless).
- `record_attempt(delivery_id, attempt)`: `{"attempt", "at", "status", "latency_ms",
  "error", "outcome": ok|retry|failed, "retry_in_ms"}`; `error` is already redacted.
- `record_outcome(delivery_id, request_summary, outcome)`: `outcome` is `{"status":
  sent|failed|dead, "attempts", "error", "at", "request"}`; `request` is the full
  `DeliveryRequest` dict (it holds no secrets) so a dead letter can be replayed.
- `emit_event(event)`: a `notification.sent|failed` envelope for the event stream.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class DeliveryLog(Protocol):
    def already_sent(self, delivery_id: str) -> bool: ...

    def record_attempt(self, delivery_id: str, attempt: dict[str, Any]) -> None: ...

    def record_outcome(
        self, delivery_id: str, request_summary: dict[str, Any], outcome: dict[str, Any]
    ) -> None: ...

    def emit_event(self, event: dict[str, Any]) -> None: ...


class MemoryDeliveryLog:
    """A thread-safe in-memory `DeliveryLog`; `wait_for()` lets tests await outcomes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.summaries: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []

    def already_sent(self, delivery_id: str) -> bool:
        with self._cond:
            return self.outcomes.get(delivery_id, {}).get("status") == "sent"

    def record_attempt(self, delivery_id: str, attempt: dict[str, Any]) -> None:
        with self._cond:
            self.attempts[delivery_id].append(dict(attempt))
            self._cond.notify_all()

    def record_outcome(
        self, delivery_id: str, request_summary: dict[str, Any], outcome: dict[str, Any]
    ) -> None:
        with self._cond:
            self.summaries[delivery_id] = dict(request_summary)
            self.outcomes[delivery_id] = dict(outcome)
            self._cond.notify_all()

    def emit_event(self, event: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least `count` outcomes are recorded (False on timeout)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.outcomes) >= count, timeout)
