"""Value types the engine hands to the rest of Tocsin (delivery, service, CLI).

These are the contract between packages: the engine produces `AlertEvent`s; the service
stores them (the outbox) and turns each `Destination` into one delivery; `delivery/`
renders and sends. They are plain frozen dataclasses with `to_dict()` for JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.times import EARLIEST, LATEST, parse_time, rfc3339  # noqa: F401  (re-exported)

FIRED = "fired"
REPEATED = "repeated"
ESCALATED = "escalated"
RESOLVED = "resolved"
ALERT_EVENT_KINDS = (FIRED, REPEATED, ESCALATED, RESOLVED)

@dataclass(frozen=True, slots=True)
class Destination:
    """One concrete place a notification goes.

    kind: a contact kind (email | sms) or a channel kind (`dsl.catalog.CHANNEL_KINDS`)
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


INACTIVE = "inactive"  # a pending alert whose condition went false before it ever fired
PENDING = "pending"
FIRING = "firing"
RESOLVED_STATUS = "resolved"


def _time_or_none(t: datetime | None) -> str | None:
    return rfc3339(t) if t else None


@dataclass(slots=True)
class Alert:
    """The state of one monitor for one key (semantics.md § States).

    Public fields are what the API shows; the `_`-free bookkeeping below `last_triggered_at`
    (repeat/digest counters, escalations done, a muted notification waiting for the mute
    to end) is engine state, kept here so a snapshot is one record per alert.
    """

    id: str
    monitor: str
    key: dict[str, Any]
    status: str = PENDING
    acknowledged: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    comment: str | None = None
    severity: str = "error"
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    pending_since: datetime | None = None
    count: int = 0
    value: float | None = None
    threshold: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    last_event: dict[str, Any] | None = None
    last_triggered_at: datetime | None = None
    # engine bookkeeping
    last_notified_at: datetime | None = None
    skipped: int = 0
    escalated: list[int] = field(default_factory=list)
    muted_kind: str | None = None
    last_event_at: datetime | None = None
    same_at: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The API shape (api.md): times RFC 3339, no engine bookkeeping."""
        return {
            "id": self.id,
            "monitor": self.monitor,
            "key": dict(self.key),
            "status": self.status,
            "acknowledged": self.acknowledged,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": _time_or_none(self.acknowledged_at),
            "comment": self.comment,
            "severity": self.severity,
            "fired_at": _time_or_none(self.fired_at),
            "resolved_at": _time_or_none(self.resolved_at),
            "resolved_by": self.resolved_by,
            "pending_since": _time_or_none(self.pending_since),
            "count": self.count,
            "value": self.value,
            "threshold": self.threshold,
            "labels": dict(self.labels),
            "last_event": self.last_event,
            "last_triggered_at": _time_or_none(self.last_triggered_at),
        }

    def dump(self) -> dict[str, Any]:
        """Everything, JSON-serializable (snapshots)."""
        d = self.to_dict()
        d.update(
            last_notified_at=_time_or_none(self.last_notified_at),
            skipped=self.skipped,
            escalated=list(self.escalated),
            muted_kind=self.muted_kind,
            last_event_at=_time_or_none(self.last_event_at),
            same_at=self.same_at,
        )
        return d

    @classmethod
    def load(cls, d: dict[str, Any]) -> Alert:
        times = ("acknowledged_at", "fired_at", "resolved_at", "pending_since",
                 "last_triggered_at", "last_notified_at", "last_event_at")
        kw = {k: (parse_time(v) if k in times and v else v) for k, v in d.items()}
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence from the API: mutes alert events whose monitor/key/labels match every
    matcher while `starts_at <= at < ends_at` (starts_at None: from the beginning)."""

    id: str
    matchers: dict[str, str]
    ends_at: datetime
    starts_at: datetime | None = None
    comment: str | None = None
    by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": dict(self.matchers),
            "ends_at": rfc3339(self.ends_at),
            "starts_at": _time_or_none(self.starts_at),
            "comment": self.comment,
            "by": self.by,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Silence:
        return cls(
            id=d["id"], matchers=dict(d["matchers"]), ends_at=parse_time(d["ends_at"]),
            starts_at=parse_time(d["starts_at"]) if d.get("starts_at") else None,
            comment=d.get("comment"), by=d.get("by"),
        )
