"""Value types the engine hands to the rest of Tocsin (delivery, service, CLI).

These are the contract between packages: the engine produces `AlertEvent`s; the service
stores them (the outbox) and turns each `Destination` into one delivery; `delivery/`
renders and sends. They are plain frozen dataclasses with `to_dict()` for JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

FIRED = "fired"
REPEATED = "repeated"
ESCALATED = "escalated"
RESOLVED = "resolved"
ALERT_EVENT_KINDS = (FIRED, REPEATED, ESCALATED, RESOLVED)


def rfc3339(t: datetime) -> str:
    """UTC RFC 3339 with milliseconds and a `Z`: `2026-11-22T07:30:00.125Z`."""
    t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Destination:
    """One concrete place a notification goes.

    kind: email | sms | webhook | slack | pagerduty
    address: the e-mail address or phone number (email/sms), else the channel's name
    group: the group this destination came from, if any (its name and members are in
    the template context)
    """

    kind: str
    address: str
    group: str | None = None

    @property
    def label(self) -> str:
        """`email:ana@example.com`, `webhook:PagerDuty`: the form `tocsin test` prints."""
        return f"{self.kind}:{self.address}"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One notification round of an alert: fired, repeated, escalated or resolved.

    `id` is deterministic (alert id + kind + sequence number of that alert's rounds), so
    replaying the same events yields the same ids and a unique index drops repeats.
    """

    id: str
    alert_id: str
    monitor: str
    key: dict[str, Any]
    kind: str
    at: datetime
    severity: str
    destinations: tuple[Destination, ...] = ()
    count: int = 1
    value: float | None = None
    threshold: float | None = None
    event: dict[str, Any] | None = None  # the triggering event, if any
    labels: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # the monitor's `message` template, unrendered
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    muted: bool = False  # recorded but not to be delivered (mute during / silence)

    @property
    def targets(self) -> list[str]:
        return sorted({d.label for d in self.destinations})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "monitor": self.monitor,
            "key": dict(self.key),
            "kind": self.kind,
            "at": rfc3339(self.at),
            "severity": self.severity,
            "targets": self.targets,
            "destinations": [
                {"kind": d.kind, "address": d.address, "group": d.group} for d in self.destinations
            ],
            "count": self.count,
            "value": self.value,
            "threshold": self.threshold,
            "event": self.event,
            "labels": dict(self.labels),
            "message": self.message,
            "fired_at": rfc3339(self.fired_at) if self.fired_at else None,
            "resolved_at": rfc3339(self.resolved_at) if self.resolved_at else None,
            "muted": self.muted,
        }
