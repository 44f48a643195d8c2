"""Helpers for engine tests: rule sets from text, compact events, readable results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import dsl
from engine import replay
from engine.model import AlertEvent, rfc3339

BASE = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday, 00:00 UTC


def at(clock: str) -> datetime:
    """`"01:02:03"` (or `"1d 01:02:03"`) after BASE."""
    days = 0
    if "d " in clock:
        d, clock = clock.split("d ")
        days = int(d)
    h, m, s = (float(x) for x in clock.split(":"))
    return BASE + timedelta(days=days, hours=h, minutes=m, seconds=s)


def hms(t: datetime) -> str:
    delta = t - BASE
    days, rest = divmod(int(delta.total_seconds()), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{h:02d}:{m:02d}:{s:02d}"


def rules(text: str, **extra_files: str):
    ruleset, diags = dsl.load({"t.rules": text, **extra_files})
    errors = [d.to_dict() for d in diags if d.severity == "error"]
    assert ruleset is not None, errors
    return ruleset


_SEQ = [0]


def ev(type_: str, clock: str, *, instance: str | None = "I1", flow: str | None = "Sync",
       **fields: Any) -> dict:
    """An envelope at BASE + clock; extra fields go to the envelope if they are envelope
    fields (execution, level, message, customer, step, caused_by), else to `data`."""
    _SEQ[0] += 1
    e: dict[str, Any] = {"id": f"e{_SEQ[0]}", "type": type_, "time": rfc3339(at(clock))}
    if instance is not None:
        e["instance"] = {"id": instance, "name": f"name-{instance}"}
    if flow is not None:
        e["flow"] = flow
    data = {}
    for k, v in fields.items():
        if k in ("execution", "level", "message", "customer", "step", "caused_by", "connection"):
            e[k] = v
        else:
            data[k] = v
    if data:
        e["data"] = data
    return e


def rows(alert_events: list[AlertEvent], *, targets: bool = False, muted: bool = True) -> list[tuple]:
    """(hh:mm:ss, monitor, kind, key values...) per alert event, in order."""
    out = []
    for ae in alert_events:
        if not muted and ae.muted:
            continue
        row = (hms(ae.at), ae.monitor, ae.kind, *ae.key.values())
        if targets:
            row += (tuple(ae.targets),)
        if ae.muted:
            row += ("muted",)
        out.append(row)
    return out


def run(text: str, events: list[dict], until: str, **kw: Any) -> list[tuple]:
    return rows(replay(rules(text), events, until=at(until), start=BASE), **kw)
