"""`tocsin test RULES… --events FILE.jsonl [--until RFC3339] [--format text|json] [--render]`.

Loads and checks the rules (errors: diagnostics printed, exit 1), reads one event per
line, replays them in time order and ticks the clock through `--until` (default: the
last event plus the longest window or interval), then prints the alert events sorted by
`at` then monitor. Muted alert events (mute during, silences) are not listed: they
would not be delivered; the notification sent when the mute ends is. Nothing is sent,
nothing is stored. Exit 0 on success, 1 for rule errors, 2 for unusable input.

`--render` adds each alert event's `notifications` as a worker would send them
(`delivery.preview`). The engine does not import delivery: the caller (`service.cli`)
passes a `preview` factory, which this module only calls.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

from dsl.diagnostics import Diagnostic
from dsl.ruleset import RuleSet
from engine.model import AlertEvent, parse_time, rfc3339

Notifications = Callable[[AlertEvent], list[dict[str, Any]]]
PreviewFactory = Callable[[RuleSet], Notifications]


class InputError(Exception):
    """An events file or argument that cannot be used (exit 2)."""


def read_events(path: str) -> list[dict]:
    """One JSON object per line; blank lines and `#` comments are skipped."""
    events = []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.readlines()
    except OSError as e:
        raise InputError(f"{path}: {e.strerror or e}") from None
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            ev = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not JSON ({e.msg})") from None
        except ValueError as e:  # NaN, Infinity, 1e400: what POST /v1/events refuses too
            raise InputError(f"{path}:{n}: {e}") from None
        if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
            raise InputError(f"{path}:{n}: an event is a JSON object with a `type`")
        try:
            ev["time"] = rfc3339(parse_time(ev["time"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}:{n}: `time` must be an RFC 3339 timestamp") from None
        events.append(ev)
    return events


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def shown_alert_events(alert_events: list[AlertEvent]) -> list[AlertEvent]:
    """The alert events a dry run lists: not muted, sorted by `at` then monitor."""
    shown = [ae for ae in alert_events if not ae.muted]
    shown.sort(key=lambda ae: (ae.at, ae.monitor))
    return shown


def result_rows(alert_events: list[AlertEvent],
                notifications: Notifications | None = None) -> list[dict[str, Any]]:
    """The JSON rows of `tocsin test` / `POST /v1/test`, sorted by `at` then monitor; with
    `notifications`, each row also lists what it would send."""
    rows = []
    for ae in shown_alert_events(alert_events):
        row = {"monitor": ae.monitor, "key": dict(ae.key), "kind": ae.kind, "at": rfc3339(ae.at),
               "severity": ae.severity, "targets": ae.targets}
        if notifications is not None:
            row["notifications"] = notifications(ae)
        rows.append(row)
    return rows


def _load_rules(paths: list[str]):
    from dsl import load
    from dsl.cli import UsageError, find_rule_files, read_sources

    try:
        sources, unreadable = read_sources(find_rule_files(paths))
    except UsageError as e:
        raise InputError(str(e)) from None
    ruleset, diagnostics = load(sources)
    return (None if unreadable else ruleset), unreadable + diagnostics, sources


def _print_diagnostics(diags: list[Diagnostic], sources: dict[str, str], fmt: str,
                       rows: list[dict] | None) -> None:
    if fmt == "json":
        # allow_nan=False: events are finite (read_events) and rendered bodies are made
        # strict by delivery, so this never raises; if it did, no invalid JSON is printed.
        print(json.dumps({"alert_events": rows or [], "diagnostics": [d.to_dict() for d in diags]},
                         indent=2, allow_nan=False))
        return
    if diags:
        from dsl.report import render_all

        print(render_all(diags, sources), file=sys.stderr if rows is not None else sys.stdout)


def test_command(args, preview: PreviewFactory | None = None) -> int:
    """Run `tocsin test`; `preview` (given for `--render`) makes the notifications."""
    from engine.replay import replay

    fmt = getattr(args, "format", "text")
    try:
        ruleset, diags, sources = _load_rules(args.paths)
        until = parse_time(args.until) if args.until else None
        events = read_events(args.events) if ruleset is not None else []
    except (InputError, ValueError) as e:
        print(f"tocsin test: {e}", file=sys.stderr)
        return 2
    if ruleset is None:
        _print_diagnostics(diags, sources, fmt, None)
        return 1
    rows = result_rows(replay(ruleset, events, until=until),
                       preview(ruleset) if preview is not None else None)
    _print_diagnostics(diags, sources, fmt, rows)
    if fmt != "json":
        for r in rows:
            key = " ".join(f"{k}={v}" for k, v in r["key"].items()) or "-"
            print(f"{r['at']}  {r['kind']:<9} {r['monitor']}  [{key}]  {r['severity']}  "
                  f"-> {', '.join(r['targets']) or '(no targets)'}")
            for n in r.get("notifications", ()):
                print("\n".join(notification_lines(n)))
        print(f"{len(rows)} alert event{'s' if len(rows) != 1 else ''}")
    return 0


def notification_lines(n: dict[str, Any]) -> list[str]:
    """One notification as text: where to, the headers, a blank line, the body, then its
    error and render warnings (`tocsin test --render`)."""
    where = " ".join(str(part) for part in (n.get("method"), n.get("url")) if part)
    lines = [f"    {n['channel']} {n['target']}" + (f": {where}" if where else "")]
    if n.get("error"):
        lines.append(f"      error: {n['error']}")
    lines += [f"      {name}: {value}" for name, value in (n.get("headers") or {}).items()]
    body = n.get("body")
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False,
                                                              allow_nan=False)
        lines.append("")
        lines += [f"      {line}".rstrip() for line in text.splitlines()]
    lines += [f"      render warning: {w}" for w in n.get("render_warnings", ())]
    return lines
