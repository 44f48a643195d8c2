"""Notification targets resolved to concrete destinations (language.md § Notification).

- `group "G"`: every member of G, each `Destination(kind, address, group="G")`: its
  e-mail addresses and phone numbers, and its channels of every kind (`dsl.channels`).
- `group "G" via email` (or `sms`, `webhook`, …, bare): only members of those kinds.
- `group "G" via webhook "X"`: the group routed through channel X: `webhook:X`, group G.
- direct targets: `email "a@b"` -> `email:a@b`; `webhook "X"` -> `webhook:X`.
Duplicates (same kind and address) keep their first occurrence. A group missing from
the rule set resolves to nothing (the checker reports it before rules load).
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl import ast as A
from dsl.ruleset import RuleSet
from engine.model import Destination


@dataclass(frozen=True, slots=True)
class Routes:
    """Where a monitor's notifications go: `fired` for fired/repeated, `resolved` for
    resolutions (clauses without `without resolved`), one tuple per `escalate` clause."""

    fired: tuple[Destination, ...] = ()
    resolved: tuple[Destination, ...] = ()
    escalations: tuple[tuple[int, tuple[Destination, ...]], ...] = ()  # (after ms, dests)


def resolve_targets(targets: tuple[A.Target, ...], via: tuple[A.Via, ...],
                    ruleset: RuleSet) -> list[Destination]:
    out: list[Destination] = []
    for t in targets:
        name = t.name.value
        if t.kind != "group":
            out.append(Destination(t.kind, name))
            continue
        group = ruleset.groups.get(name)
        members = group.members if group else ()
        if not via:
            out.extend(Destination(k, v, name) for k, v in members)
            continue
        for v in via:
            if v.name is not None:
                out.append(Destination(v.kind, v.name.value, name))
            else:
                out.extend(Destination(k, m, name) for k, m in members if k == v.kind)
    return out


def dedupe(dests: list[Destination]) -> tuple[Destination, ...]:
    seen: set[tuple[str, str]] = set()
    out = []
    for d in dests:
        if (d.kind, d.address) not in seen:
            seen.add((d.kind, d.address))
            out.append(d)
    return tuple(out)


def routes_of(monitor: A.Monitor, ruleset: RuleSet) -> Routes:
    fired: list[Destination] = []
    resolved: list[Destination] = []
    for clause in monitor.clauses_of(A.NotifyClause):
        dests = resolve_targets(clause.targets, clause.via, ruleset)
        fired.extend(dests)
        if not clause.without_resolved:
            resolved.extend(dests)
    escalations = tuple(
        (int(c.after.seconds * 1000), dedupe(resolve_targets(c.targets, (), ruleset)))
        for c in monitor.clauses_of(A.EscalateClause)
    )
    return Routes(dedupe(fired), dedupe(resolved), escalations)
