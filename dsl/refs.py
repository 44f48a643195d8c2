"""Names across the whole rule set: definitions, duplicates (E104), references to groups
(E101), channels (E102) and schedules (E103), and unused channels and groups (W501).

Channels are named per kind: `webhook "X"` and `slack "X"` are different channels, and a
group may share a name with a channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error, warning
from dsl.suggest import did_you_mean


@dataclass
class Symbols:
    """First definition of every name; `used` collects what references reach."""

    channels: dict[tuple[str, str], A.Block] = field(default_factory=dict)
    groups: dict[str, A.Block] = field(default_factory=dict)
    schedules: dict[str, A.Block] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)

    def table(self, kind: str) -> dict:
        return {"group": self.groups, "schedule": self.schedules}.get(kind, self.channels)


def collect(files: list[A.RuleFile]) -> tuple[Symbols, list[Diagnostic]]:
    """Every block by kind and name; a second block of the same kind and name is E104."""
    symbols, out = Symbols(), []
    for rf in files:
        for b in rf.blocks:
            if b.kind not in C.BLOCK_KINDS:
                continue
            key = (b.kind, b.name.value) if b.kind in C.CHANNEL_KINDS else b.name.value
            table = symbols.table(b.kind)
            if key in table:
                first = table[key]
                out.append(error(b.name.span, "E104", f'duplicate {b.kind} "{b.name.value}"',
                                 f"the first is at {_where(first.span)}; rename or remove one"))
            else:
                table[key] = b
    return symbols, out


def monitor_names(files: list[A.RuleFile]) -> tuple[list[tuple[str, A.Monitor, str]], list[Diagnostic]]:
    """(name, monitor, file) for every monitor, and E104 for names used twice."""
    from dsl.formatter import monitor_name

    named, out = [], []
    first: dict[str, A.Monitor] = {}
    for rf in files:
        for m in rf.monitors:
            name = monitor_name(m)
            if m.name is not None and not name.strip():
                out.append(error(m.name.span, "E108", "a monitor name must not be empty"))
            if name in first:
                out.append(_duplicate_monitor(m, name, first[name]))
            else:
                first[name] = m
            named.append((name, m, rf.file))
    return named, out


def _duplicate_monitor(m: A.Monitor, name: str, earlier: A.Monitor) -> Diagnostic:
    where = _where(earlier.span)
    if m.name is not None:
        return error(m.name.span, "E104", f'duplicate monitor name "{name}"',
                     f"the first is at {where}; monitor names are unique across all files")
    span = A.Span(m.span.file, m.span.line, m.span.column, m.trigger.span.end_line, m.trigger.span.end_column)
    what = "an unnamed monitor" if earlier.name is None else "a monitor"
    return error(span, "E104", f"this monitor's derived name `{name}` is the same as {what} at {where}",
                 'name it: `monitor "NAME" when …`')


def check_references(files: list[A.RuleFile], symbols: Symbols) -> list[Diagnostic]:
    """E101/E102/E103 for every unresolved name, then W501 for what nothing uses."""
    out: list[Diagnostic] = []
    for rf in files:
        for b in rf.blocks:
            if b.kind == "group":
                for item in b.items:
                    if item.key in C.CHANNEL_KINDS:
                        for v in item.values:
                            if isinstance(v, A.String):
                                _channel(item.key, v, symbols, out)
        for m in rf.monitors:
            _monitor_refs(m, symbols, out)
    return out + _unused(symbols)


def _monitor_refs(m: A.Monitor, symbols: Symbols, out: list[Diagnostic]) -> None:
    for c in m.clauses:
        if isinstance(c, (A.NotifyClause, A.EscalateClause)):
            for t in c.targets:
                if t.kind == "group":
                    _group(t.name, symbols, out)
                elif t.kind in C.CHANNEL_KINDS:
                    _channel(t.kind, t.name, symbols, out)
        if isinstance(c, A.NotifyClause):
            for v in c.via:
                if v.kind in C.CHANNEL_KINDS and v.name is not None:
                    _channel(v.kind, v.name, symbols, out)
        if isinstance(c, A.MuteClause) and c.schedule.value not in symbols.schedules:
            hint = did_you_mean(c.schedule.value, symbols.schedules, quote='"') or \
                f'define it: `schedule "{c.schedule.value}" {{ days sat, sun }}`'
            out.append(error(c.schedule.span, "E103", f'unknown schedule "{c.schedule.value}"', hint))


def _group(name: A.String, symbols: Symbols, out: list[Diagnostic]) -> None:
    if name.value in symbols.groups:
        symbols.used.add(("group", name.value))
        return
    hint = did_you_mean(name.value, symbols.groups, quote='"')
    if hint is None:
        kinds = [k for (k, n) in symbols.channels if n == name.value]
        hint = (f'there is a {kinds[0]} named "{name.value}": `notify {kinds[0]} "{name.value}"`' if kinds
                else f'define it: `group "{name.value}" {{ email "…" }}`')
    out.append(error(name.span, "E101", f'unknown group "{name.value}"', hint))


def _channel(kind: str, name: A.String, symbols: Symbols, out: list[Diagnostic]) -> None:
    if (kind, name.value) in symbols.channels:
        symbols.used.add((kind, name.value))
        return
    same_kind = [n for (k, n) in symbols.channels if k == kind]
    hint = did_you_mean(name.value, same_kind, quote='"')
    if hint is None:
        kinds = [k for (k, n) in symbols.channels if n == name.value]
        hint = (f'"{name.value}" is a {kinds[0]} channel: write `{kinds[0]} "{name.value}"`' if kinds
                else f'define it: `{kind} "{name.value}" {{ … }}`')
    out.append(error(name.span, "E102", f'unknown {kind} channel "{name.value}"', hint))


def _unused(symbols: Symbols) -> list[Diagnostic]:
    out = []
    for (kind, name), b in symbols.channels.items():
        if (kind, name) not in symbols.used:
            out.append(warning(b.name.span, "W501", f'{kind} "{name}" is never used',
                               "notify it from a monitor or list it in a group, or remove it"))
    for name, b in symbols.groups.items():
        if ("group", name) not in symbols.used:
            out.append(warning(b.name.span, "W501", f'group "{name}" is never used',
                               f'notify it from a monitor: `notify group "{name}"`, or remove it'))
    return out


def _where(span: A.Span) -> str:
    return f"{span.file}:{span.line}:{span.column}"
