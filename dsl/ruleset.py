"""The checked rule set: what the engine, delivery and service consume.

`dsl.load(files)` turns parsed files into a `RuleSet` when they have no errors. Channel,
group and schedule blocks become typed, validated values here, so no later stage reads
`BlockItem`s again. Template strings stay unrendered: secrets are resolved at send time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dsl.ast import Monitor
from dsl.channels import ChannelConfig as Channel


@dataclass(frozen=True, slots=True)
class Group:
    """Members as (kind, value) pairs: contacts ("email", "ana@x"), ("sms", "+1555…") and
    channels by kind and name (("webhook", "PagerDuty"), ("slack", "ops"), …)."""

    name: str
    members: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Schedule:
    """Active when the local time (in `timezone`) falls on one of `days` (0 = Monday)
    and inside one of `hours` (minutes since midnight, end exclusive; an end at or
    before the start wraps past midnight). No `days`: every day; no `hours`: all day."""

    name: str
    days: frozenset[int] = frozenset()
    hours: tuple[tuple[int, int], ...] = ()
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class MonitorDef:
    """A checked monitor with its resolved unique name and where it came from."""

    name: str
    monitor: Monitor
    file: str
    source: str = field(default="", compare=False)  # normalized text (the formatter's)

    @property
    def line(self) -> int:
        return self.monitor.span.line


@dataclass(frozen=True, slots=True)
class RuleSet:
    monitors: tuple[MonitorDef, ...] = ()
    channels: dict[tuple[str, str], Channel] = field(default_factory=dict)  # (kind, name): dsl.channels configs
    groups: dict[str, Group] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def monitor(self, name: str) -> MonitorDef | None:
        for m in self.monitors:
            if m.name == name:
                return m
        return None
