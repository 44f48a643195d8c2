"""`notification.sent` / `notification.failed`: a final outcome, as an event (events.md).

`data` holds `channel` (the destination kind), `target` (address or channel name),
`status` (sent | failed | dead), `status_code` (the receiver's last answer), `attempts`,
`error` (redacted), `alert_id`, `alert_event_id`, `delivery_id` and `monitor`;
`caused_by` names the monitor and the causal depth, so the engine never feeds the event
back to that monitor and stops chains at depth 3. The id is deterministic: one outcome,
one event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from delivery.request import DeliveryRequest
from engine.model import rfc3339


def notification_event(
    request: DeliveryRequest, status: str, error: str | None, status_code: int | None,
    at: datetime,
) -> dict[str, Any]:
    sent = status == "sent"
    monitor = request.monitor.get("name")
    return {
        "id": f"{request.id}-{'sent' if sent else 'failed'}",
        "type": "notification.sent" if sent else "notification.failed",
        "time": rfc3339(at),
        "source": "tocsin-delivery",
        "data": {
            "channel": request.kind,
            "target": request.target,
            "status": status,
            "status_code": status_code,
            "attempts": request.attempt,
            "error": error,
            "alert_id": request.document.get("id"),
            "alert_event_id": request.alert_event_id,
            "delivery_id": request.id,
            "monitor": monitor,
        },
        "caused_by": {"monitors": [monitor], "depth": request.caused_by_depth},
    }
