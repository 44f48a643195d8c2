"""Checked AST -> `RuleSet` values: typed channels, groups, schedules and named monitors.

Runs only on rule sets without errors, so every setting here has the right shape.
Durations become seconds, `days` day numbers (0 = Monday), JSON literals plain Python
values whose strings are still unrendered templates, phone numbers E.164.
"""

from __future__ import annotations

import phonenumbers

from dsl import ast as A
from dsl.channels import kinds
from dsl.ruleset import Channel, Group, MonitorDef, RuleSet, Schedule
from dsl.values import parse_days


def build_ruleset(files: list[A.RuleFile], monitors: list[tuple[str, A.Monitor, str]]) -> RuleSet:
    """The rule set of checked files; `monitors` is `refs.monitor_names`' list."""
    from dsl.formatter import format_monitor

    channels: dict[tuple[str, str], Channel] = {}
    groups: dict[str, Group] = {}
    schedules: dict[str, Schedule] = {}
    for rf in files:
        for b in rf.blocks:
            name = b.name.value
            if b.kind == "group":
                groups[name] = build_group(b)
            elif b.kind == "schedule":
                schedules[name] = build_schedule(b)
            else:
                channels[(b.kind, name)] = build_channel(b)
    defs = tuple(MonitorDef(name, m, file, format_monitor(m)) for name, m, file in monitors)
    return RuleSet(monitors=defs, channels=channels, groups=groups, schedules=schedules)


def _first(b: A.Block, key: str):
    items = b.items_of(key)
    return items[0].values[0] if items else None


def _text(b: A.Block, key: str, default: str | None = None) -> str | None:
    v = _first(b, key)
    return v.value if v is not None else default


def build_channel(b: A.Block) -> Channel:
    """A channel block as its kind's config (`dsl.channels`)."""
    return kinds()[b.kind].build(b)


def build_group(b: A.Block) -> Group:
    members: list[tuple[str, str]] = []
    for item in b.items:
        for v in item.values:
            value = _e164(v.value) if item.key == "sms" else v.value
            if (item.key, value) not in members:
                members.append((item.key, value))
    return Group(name=b.name.value, members=tuple(members))


def _e164(text: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(text, None), phonenumbers.PhoneNumberFormat.E164)


def build_schedule(b: A.Block) -> Schedule:
    days: set[int] = set()
    for item in b.items_of("days"):
        for v in item.values:
            days |= parse_days(v)[0]
    hours = tuple((v.start, v.end) for item in b.items_of("hours") for v in item.values)
    return Schedule(name=b.name.value, days=frozenset(days), hours=hours,
                    timezone=_text(b, "timezone", "UTC"))
