"""Who renders each template of a rule set, and with what in its context.

A monitor's `message` is rendered for each of its notifications; a channel's strings
for each notification sent through that channel, by whichever monitor (directly, as a
member of a notified group, or `via` it). A `Usage` is one such way:

    Usage(monitor="Export overdue", trigger=ABSENCE, families=frozenset({"execution"}),
          through_group=True)

What the context then holds (delivery/context.py, engine/alerts.py):
- `event`: an event or comparison trigger's alerts always carry their triggering event
  (fired, repeated, escalated; resolved and cleared carry the last one). An absence
  alert has none until the awaited event ends it (`{}`), a metric alert has none at all.
- `group`: set when the notification goes through a group, None otherwise.
Routes are read from the rule text, so a group or channel that does not exist (E101,
E102) simply adds no usage.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl import ast as A
from dsl import catalog as C
from dsl.check_blocks import template_strings
from dsl.refs import Symbols
from dsl.walk import trigger_families

EVENT = "event"  # the alert always has its triggering event
ABSENCE = "absence"  # no event until the awaited one arrives
METRIC = "metric"  # no event


@dataclass(frozen=True, slots=True)
class Usage:
    """One way a template is rendered; `through_group` is None when it is never sent."""

    monitor: str
    trigger: str
    families: frozenset[str]
    through_group: bool | None


def trigger_kind(trigger: A.Trigger) -> str:
    if isinstance(trigger, A.AbsenceTrigger):
        return ABSENCE
    if isinstance(trigger, A.MetricTrigger):
        return METRIC
    return EVENT


def template_usages(files: list[A.RuleFile], symbols: Symbols,
                    monitors: list[tuple[str, A.Monitor, str]]) -> list[tuple[A.String, tuple[Usage, ...]]]:
    """Every template string of the rule set with the ways it is rendered (none for an
    unused channel). Strings without `{` or `$` read nothing and are left out."""
    channel_strings: dict[tuple[str, str], list[A.String]] = {}
    for rf in files:
        for block in rf.blocks:
            if block.kind in C.CHANNEL_KINDS:
                strings = [s for item in block.items for s in template_strings(block.kind, item) if _reads(s)]
                channel_strings.setdefault((block.kind, block.name.value), []).extend(strings)
    members = _group_channels(symbols)
    by_channel: dict[tuple[str, str], list[Usage]] = {}
    out: list[tuple[A.String, tuple[Usage, ...]]] = []
    for name, monitor, _ in monitors:
        messages: list[A.String] = []
        routes: list[tuple[tuple[str, str] | None, bool]] = []
        for clause in monitor.clauses:
            if isinstance(clause, A.MessageClause):
                if _reads(clause.text):
                    messages.append(clause.text)
            elif isinstance(clause, (A.NotifyClause, A.EscalateClause)):
                routes += _routes(clause, members)
        if not messages and not any(channel_strings.get(c) for c, _ in routes if c is not None):
            continue  # the common case: nothing this monitor renders reads anything
        kind, families = trigger_kind(monitor.trigger), trigger_families(monitor.trigger)
        for channel, through_group in routes:
            if channel_strings.get(channel):
                by_channel.setdefault(channel, []).append(Usage(name, kind, families, through_group))
        ways = sorted({g for _, g in routes}) or [None]
        out += [(text, tuple(Usage(name, kind, families, g) for g in ways)) for text in messages]
    for channel, strings in channel_strings.items():
        usages = _distinct(by_channel.get(channel, ()))
        out += [(s, usages) for s in strings]
    return out


def _reads(s: A.String) -> bool:
    return "{" in s.value or "$" in s.value


def _distinct(usages: list[Usage]) -> tuple[Usage, ...]:
    """One usage per kind of context (the first monitor's): a channel thousands of
    monitors notify is checked a handful of times, not thousands."""
    first: dict[tuple, Usage] = {}
    for u in usages:
        first.setdefault((u.trigger, u.families, u.through_group), u)
    return tuple(first.values())


def _group_channels(symbols: Symbols) -> dict[str, list[tuple[str, str] | None]]:
    """Per group, each member as a channel, or None for an e-mail address or phone number."""
    out: dict[str, list[tuple[str, str] | None]] = {}
    for name, group in symbols.groups.items():
        out[name] = [(item.key, v.value) if item.key in C.CHANNEL_KINDS else None
                     for item in group.items for v in item.values if isinstance(v, A.String)]
    return out


def _routes(clause: A.NotifyClause | A.EscalateClause,
            members: dict[str, list[tuple[str, str] | None]]) -> list[tuple[tuple[str, str] | None, bool]]:
    """(channel or None for an e-mail/SMS contact, through a group?) per destination."""
    via = clause.via if isinstance(clause, A.NotifyClause) else ()
    out: list[tuple[tuple[str, str] | None, bool]] = []
    for target in clause.targets:
        if target.kind != "group":
            out.append(((target.kind, target.name.value) if target.kind in C.CHANNEL_KINDS else None, False))
        elif target.name.value not in members:
            continue
        elif via:
            out += [((v.kind, v.name.value) if v.name is not None else None, True) for v in via]
        else:
            out += [(channel, True) for channel in members[target.name.value]]
    return out
