"""`DeliveryRequest`: everything a worker needs to send one notification, as JSON.

    requests = build_requests(alert_event, ruleset, public_url="https://tocsin.example")
    enqueue(requests[0])                     # -> the `deliver` actor, on any worker

A request holds the standard alert document (api.md), the destination, the channel's
configuration with its templates *unrendered*, the group and monitor, and the attempt
counter. It never holds a secret value: `{{ secrets.X }}` is resolved at send time.
Its `id` is deterministic (alert-event id + destination kind + address), so queueing
the same delivery twice is harmless: a worker skips an id already sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

from dsl import ast as A
from dsl.ruleset import Group, MonitorDef, RuleSet
from engine.model import RESOLVED, AlertEvent, Destination, rfc3339

# Prismatic's names for its alert triggers (`$TRIGGER`), by the trigger that matches them.
PRISMATIC_EVENT_TRIGGERS = {
    "execution.started": "Execution Started",
    "execution.completed": "Execution Completed",
    "execution.failed": "Execution Failed",
    "execution.retry_pending": "Execution Failed, Retry Pending",
    "instance.enabled": "Instance Enabled",
    "instance.disabled": "Instance Disabled",
    "instance.removed": "Instance Removed",
    "connection.error": "Connection Threw an Exception",
}
PRISMATIC_COMPARISON_TRIGGERS = {
    "execution.duration": "Execution Duration Matched or Exceeded",
    "log.level": "Log Level Matched or Exceeded",
}
PRISMATIC_ABSENCE_TRIGGERS = {"execution.completed": "Execution Overdue"}


def delivery_id(alert_event_id: str, kind: str, address: str) -> str:
    """`dlv_` + 32 hex digits of SHA-256 over the three parts (stable across replays)."""
    digest = hashlib.sha256(f"{alert_event_id}\x1f{kind}\x1f{address}".encode()).hexdigest()
    return "dlv_" + digest[:32]


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """One delivery; `attempt` is 1-based, `first_attempt_at` set when attempt 1 ran."""

    id: str
    alert_event_id: str
    document: dict[str, Any]
    destination: dict[str, Any]  # {kind, address, group}
    channel: dict[str, Any] | None
    group: dict[str, Any] | None  # {name, members: [{kind, value}]}
    monitor: dict[str, Any]  # {name, severity, labels, runbook}
    message_template: str | None = None
    attempt: int = 1
    first_attempt_at: str | None = None
    caused_by_depth: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.destination["kind"]

    @property
    def target(self) -> str:
        return self.destination["address"]

    def to_dict(self) -> dict[str, Any]:
        """A shallow JSON-ready dict (the nested values are plain JSON already)."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryRequest:
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})

    def next_attempt(self, first_attempt_at: str) -> DeliveryRequest:
        return dataclasses.replace(
            self, attempt=self.attempt + 1,
            first_attempt_at=self.first_attempt_at or first_attempt_at,
        )

    def summary(self) -> dict[str, Any]:
        """What a delivery record keeps about the request (no rendered text, no secrets)."""
        return {
            "id": self.id,
            "alert_event_id": self.alert_event_id,
            "alert_id": self.document.get("id"),
            "monitor": self.monitor.get("name"),
            "kind": self.document.get("kind"),
            "channel": self.kind,
            "target": self.target,
            "group": self.destination.get("group"),
        }


_FIELDS = tuple(f.name for f in dataclasses.fields(DeliveryRequest))


# Where `alert.url` and `$URL` lead: the alert's page in the console (service/console),
# which redirects to its own view; the JSON stays at /v1/alerts/{id}.
ALERT_PAGE = "/alerts/"


def alert_url(public_url: str, alert_id: str) -> str:
    """The console page of one alert under the service's public base URL."""
    return f"{public_url.rstrip('/')}{ALERT_PAGE}{alert_id}"


def alert_document(alert_event: AlertEvent, *, public_url: str) -> dict[str, Any]:
    """The standard alert document of api.md; `message` is filled in at send time."""
    return {
        "id": alert_event.alert_id,
        "monitor": alert_event.monitor,
        "severity": alert_event.severity,
        "status": "resolved" if alert_event.kind == RESOLVED else "firing",
        "key": dict(alert_event.key),
        "kind": alert_event.kind,
        "count": alert_event.count,
        "value": alert_event.value,
        "threshold": alert_event.threshold,
        "fired_at": rfc3339(alert_event.fired_at) if alert_event.fired_at else None,
        "resolved_at": rfc3339(alert_event.resolved_at) if alert_event.resolved_at else None,
        "url": alert_url(public_url, alert_event.alert_id),
        "labels": dict(alert_event.labels),
        "message": None,
        "event": alert_event.event,
    }


def channel_config(ruleset: RuleSet, destination: Destination) -> dict[str, Any] | None:
    """The named rule-file channel (`dsl.channels`) as a JSON dict (tuples as lists); None
    for e-mail/SMS (operator settings) and for a channel the rule set no longer has (the
    worker records that as a failure)."""
    channel = ruleset.channels.get((destination.kind, destination.address))
    if channel is None:
        return None
    return _json_ready(dataclasses.asdict(channel))


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def group_dict(group: Group | None) -> dict[str, Any] | None:
    if group is None:
        return None
    return {"name": group.name, "members": [{"kind": k, "value": v} for k, v in group.members]}


def build_requests(
    alert_event: AlertEvent, ruleset: RuleSet, *, public_url: str
) -> list[DeliveryRequest]:
    """One request per destination of the alert event; none when it is muted."""
    if alert_event.muted:
        return []
    document = alert_document(alert_event, public_url=public_url)
    definition = _monitor_def(ruleset, alert_event.monitor)
    runbook = definition.monitor.clause(A.RunbookClause) if definition is not None else None
    monitor = {
        "name": alert_event.monitor,
        "severity": alert_event.severity,
        "labels": dict(alert_event.labels),
        "runbook": runbook.link.value if runbook is not None else None,
    }
    depth = _depth(alert_event.event)
    extra = monitor_extra(definition)
    requests = []
    for dest in dict.fromkeys(alert_event.destinations):  # drop exact duplicates, keep order
        requests.append(DeliveryRequest(
            id=delivery_id(alert_event.id, dest.kind, dest.address),
            alert_event_id=alert_event.id,
            document=document,
            destination={"kind": dest.kind, "address": dest.address, "group": dest.group},
            channel=channel_config(ruleset, dest),
            group=group_dict(ruleset.groups.get(dest.group)) if dest.group else None,
            monitor=monitor,
            message_template=alert_event.message,
            caused_by_depth=depth + 1,
            extra=extra,
        ))
    return requests


def _depth(event: dict[str, Any] | None) -> int:
    caused_by = (event or {}).get("caused_by") or {}
    depth = caused_by.get("depth") if isinstance(caused_by, dict) else None
    return depth if isinstance(depth, int) else 0


def monitor_extra(definition: MonitorDef | None) -> dict[str, Any]:
    """What the texts need to know about the monitor's trigger: `trigger`, Prismatic's
    name for it (absent when Prismatic has none), and `value_format` (`percent` when the
    alert's value is a ratio compared with a percentage, `seconds` for durations)."""
    if definition is None:
        return {}
    trigger = definition.monitor.trigger
    extra: dict[str, Any] = {}
    name = None
    if isinstance(trigger, A.EventTrigger):
        name = PRISMATIC_EVENT_TRIGGERS.get(trigger.pattern.dotted)
    elif isinstance(trigger, A.AbsenceTrigger):
        name = PRISMATIC_ABSENCE_TRIGGERS.get(trigger.pattern.dotted)
    elif isinstance(trigger, A.ComparisonTrigger):
        name = PRISMATIC_COMPARISON_TRIGGERS.get(trigger.field.dotted)
        if trigger.field.dotted == "execution.duration":
            extra["value_format"] = "seconds"
    elif isinstance(trigger, A.MetricTrigger):
        first = A.first_compare(trigger.condition)
        if first is not None and isinstance(first.right, A.Percent):
            extra["value_format"] = "percent"
    if name:
        extra["trigger"] = name
    return extra


def _monitor_def(ruleset: RuleSet, name: str) -> MonitorDef | None:
    return next((m for m in ruleset.monitors if m.name == name), None)
