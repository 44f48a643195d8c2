"""`tocsin test RULES… --events FILE.jsonl [--until RFC3339] [--format text|json] [--render]`.

Loads and checks the rules (errors: diagnostics printed, exit 1), reads one event per
line, replays them in time order and ticks the clock through `--until` (default: the
last event plus the longest window or interval; events after `--until` are left out),
then prints the alert events sorted by `at` then monitor. Muted alert events (mute
during, silences) are not listed: they would not be delivered; the notification sent
when the mute ends is. Nothing is sent, nothing is stored. Exit 0 on success, 1 for
rule errors or a monitor that failed on the way (quarantined, listed under
`monitor_errors`), 2 for unusable input or a replay beyond its limits.

Each line is checked by the caller's `check`, which is `POST /v1/test`'s own validation
(service/events_model.py, wired by `service.cli`), so the command accepts exactly what
the API accepts and reports the line and the field path of what it refuses. The replay
is bounded by `limits` (engine/replay.py: `TOCSIN_TEST_MAX_SPAN`,
`TOCSIN_TEST_MAX_ALERT_EVENTS`).

`--render` adds each alert event's `notifications` as a worker would send them
(`delivery.preview`). The engine imports neither delivery nor the service: the caller
(`service.cli`) passes a `preview` factory and the event `check`, which this module only
calls.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dsl.diagnostics import Diagnostic
from dsl.ruleset import RuleSet
from engine.events import from_ms
from engine.faults import MonitorFault
from engine.model import EARLIEST, LATEST, AlertEvent, parse_time, rfc3339
from engine.replay import ReplayLimits, ReplayTooLarge

Notifications = Callable[[AlertEvent], list[dict[str, Any]]]
PreviewFactory = Callable[[RuleSet], Notifications]
EventCheck = Callable[[Any], tuple[dict | None, list[dict[str, Any]]]]
"""One parsed line -> (the event as replayed, or None; its problems as {"path", "message"},
`path` a JSON Pointer into the event)."""

MAX_REPORTED = 20  # problems listed before "… and N more"
LIMIT_SETTINGS = {"max_span": "TOCSIN_TEST_MAX_SPAN", "max_alert_events": "TOCSIN_TEST_MAX_ALERT_EVENTS"}


class InputError(Exception):
    """An events file or argument that cannot be used (exit 2)."""


def read_events(path: str, check: EventCheck) -> list[dict]:
    """One JSON object per line, each as `check` accepts it; blank lines and `#` comments
    are skipped. Every refused line is reported (`FILE:LINE: /path: message`)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.readlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    events, problems = [], []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            raw = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except json.JSONDecodeError as e:
            problems.append(f"{path}:{n}: not JSON ({e.msg})")
            continue
        except (ValueError, RecursionError) as e:  # NaN, Infinity, 1e400: what the API refuses too
            problems.append(f"{path}:{n}: {e}")
            continue
        event, errors = check(raw)
        problems += [f"{path}:{n}: {err.get('path') or '/'}: {err['message']}" for err in errors]
        if event is not None and not errors:
            events.append(event)
    if problems:
        more = len(problems) - MAX_REPORTED
        raise InputError("\n".join(problems[:MAX_REPORTED] + ([f"… and {more} more"] if more > 0 else [])))
    return events


def parse_until(text: str) -> datetime:
    """`--until`: an RFC 3339 time between 1970 and 9000, as `POST /v1/test` takes it."""
    try:
        until = parse_time(text)
    except (ValueError, OverflowError):
        until = None
    if until is None or not EARLIEST <= until < LATEST:
        raise InputError(f"--until {text}: an RFC 3339 time between 1970 and 9000")
    return until


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


def fault_rows(faults: list[MonitorFault]) -> list[dict[str, Any]]:
    """The `monitor_errors` of `tocsin test --format json` / `POST /v1/test`."""
    return [{"monitor": f.monitor, "error": f.error, "stage": f.stage, "at": rfc3339(from_ms(f.at_ms)),
             "event_id": f.event_id} for f in faults]


def limit_message(exc: ReplayTooLarge, until_hint: str) -> str:
    """A replay refused by its limits, naming the setting that bounds it."""
    return (f"{exc} ({LIMIT_SETTINGS.get(exc.limit, exc.limit)}); "
            f"replay fewer events or pass an earlier {until_hint}")


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
                       rows: list[dict] | None, errors: list[dict] | None = None) -> None:
    if fmt == "json":
        # allow_nan=False: events are finite (read_events) and rendered bodies are made
        # strict by delivery, so this never raises; if it did, no invalid JSON is printed.
        print(json.dumps({"alert_events": rows or [], "diagnostics": [d.to_dict() for d in diags],
                          "monitor_errors": errors or []}, indent=2, allow_nan=False))
        return
    if diags:
        from dsl.report import render_all

        print(render_all(diags, sources), file=sys.stderr if rows is not None else sys.stdout)


def test_command(args, *, check: EventCheck, preview: PreviewFactory | None = None,
                 limits: ReplayLimits | None = None) -> int:
    """Run `tocsin test`: `check` validates each event line (the API's model), `preview`
    (given for `--render`) makes the notifications, `limits` bound the replay."""
    from engine.replay import run

    fmt = getattr(args, "format", "text")
    try:
        ruleset, diags, sources = _load_rules(args.paths)
        until = parse_until(args.until) if args.until else None
        events = read_events(args.events, check) if ruleset is not None else []
    except InputError as e:
        print(f"tocsin test: {e}", file=sys.stderr)
        return 2
    if ruleset is None:
        _print_diagnostics(diags, sources, fmt, None)
        return 1
    try:
        result = run(ruleset, events, until=until, limits=limits or ReplayLimits())
    except ReplayTooLarge as e:
        print(f"tocsin test: {limit_message(e, '--until')}", file=sys.stderr)
        return 2
    rows = result_rows(result.alert_events, preview(ruleset) if preview is not None else None)
    errors = fault_rows(result.faults)
    _print_diagnostics(diags, sources, fmt, rows, errors)
    if fmt != "json":
        for r in rows:
            key = " ".join(f"{k}={v}" for k, v in r["key"].items()) or "-"
            print(f"{r['at']}  {r['kind']:<9} {r['monitor']}  [{key}]  {r['severity']}  "
                  f"-> {', '.join(r['targets']) or '(no targets)'}")
            for n in r.get("notifications", ()):
                print("\n".join(notification_lines(n)))
        print(f"{len(rows)} alert event{'s' if len(rows) != 1 else ''}")
        for e in errors:
            print(f"tocsin test: monitor {e['monitor']!r} failed at {e['at']} ({e['stage']}"
                  f"{', event ' + e['event_id'] if e['event_id'] else ''}) and was stopped; the others "
                  f"went on: {e['error']}", file=sys.stderr)
    return 1 if errors else 0


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
