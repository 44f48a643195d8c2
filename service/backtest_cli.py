"""`tocsin backtest (--monitor NAME | RULES…) --from T [--to T]`: a running service's backtest.

    tocsin backtest --monitor "Sync failed" --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z
    tocsin backtest rules/ --from 24h              # the last 24 hours, these rule files
    tocsin backtest --monitor Slow --from 7d --format json

Asks `POST /v1/backtest` (docs/api.md § Backtest): the service replays its stored events
of the range through the rules, storing and sending nothing. `--from` and `--to` are RFC
3339 times, or durations meaning that long before now (`--to` defaults to now); the
service checks them (a 422 is a usage error, exit 2). RULES are files or directories,
read here and sent as the set to load, as `tocsin test` reads them.

Prints one line per alert event (a table), or the API's JSON with `--format json`.
Exit codes are `service.client`'s (0 ok, 1 refused, 2 usage, 3 unreachable); as for
`tocsin test`, rules with errors (their diagnostics printed) or a monitor that failed on
the way also end with 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Any

from engine.times import rfc3339
from service.client import OK, REFUSED, USAGE, with_service
from service.tables import key_text, short_time, table

NAME = "tocsin backtest"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], remote: argparse.ArgumentParser) -> None:
    """The subcommand's arguments; `remote` holds `--url`, `--key` and `--format`."""
    bt = sub.add_parser("backtest", parents=[remote],
                        help="replay a running service's stored events of a time range through rules, dry")
    bt.add_argument("paths", nargs="*", metavar="RULES", help="rule files or directories (or --monitor)")
    bt.add_argument("--monitor", help="a monitor of the service's active rule set")
    bt.add_argument("--from", dest="start", required=True, metavar="TIME",
                    help="RFC 3339, or a duration before now (24h, 7d)")
    bt.add_argument("--to", dest="end", metavar="TIME", help="RFC 3339, or a duration before now (default: now)")
    bt.add_argument("--limit", type=int, default=1000, help="at most this many alert events listed (default 1000)")


def moment(text: str, now: datetime) -> str:
    """An RFC 3339 time as given, or a duration (`24h`) as that long before `now`."""
    from service.config import parse_duration  # pydantic-settings: not for every CLI command

    try:
        return rfc3339(now - parse_duration(text))
    except (ValueError, OverflowError):
        return text  # a time: the service checks it


def backtest_command(args: argparse.Namespace) -> int:
    if bool(args.paths) == bool(args.monitor):
        print(f"{NAME}: give either --monitor NAME or rule files, not both", file=sys.stderr)
        return USAGE
    now = datetime.now(timezone.utc)
    body: dict[str, Any] = {"from": moment(args.start, now), "to": moment(args.end or "0s", now),
                            "limit": args.limit}
    if args.monitor:
        body["monitor"] = args.monitor
    else:
        files = _read_rules(args.paths)
        if files is None:
            return USAGE
        body["files"] = files
    answer, code = with_service(NAME, args.url, args.key,
                                lambda client: client.call("POST", "/v1/backtest", json=body))
    if answer is None:
        return code
    if args.format == "json":
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        print(answer_text(answer))
    return OK if answer.get("ok") and not answer.get("monitor_errors") else REFUSED


def _read_rules(paths: list[str]) -> dict[str, str] | None:
    """`{path: text}` of the rule files, as `tocsin test` reads them; None after a message."""
    from dsl.cli import UsageError, find_rule_files, read_sources

    try:
        sources, unreadable = read_sources(find_rule_files(paths))
    except UsageError as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return None
    for d in unreadable:
        print(f"{NAME}: {d.span.file}: {d.message}", file=sys.stderr)
    return None if unreadable else sources


def answer_text(answer: dict[str, Any]) -> str:
    """Diagnostics, or a line per alert event, then what was read and made."""
    lines = [f"{d.get('file')}:{d.get('line')}:{d.get('column')}: {d.get('code')} {d.get('message')}"
             for d in answer.get("diagnostics") or ()]
    if not answer.get("ok"):
        return "\n".join(lines + ["the rules have errors: nothing replayed"])
    rows = answer.get("alert_events") or []
    if rows:
        lines.append(table(["AT", "KIND", "MONITOR", "KEY", "SEVERITY", "VALUE", "THRESHOLD", "TARGETS"], [
            [short_time(r.get("at")), r.get("kind"), r.get("monitor"), key_text(r.get("key")), r.get("severity"),
             r.get("value"), r.get("threshold"), ", ".join(r.get("targets") or ()) or None] for r in rows]))
    total = answer.get("total", len(rows))
    lines.append(f"{total} alert event{'s' if total != 1 else ''} from {answer.get('events')} stored events "
                 f"({short_time(answer.get('from'))} to {short_time(answer.get('to'))})")
    if answer.get("truncated"):
        lines.append(f"showing the first {len(rows)} (--limit, or narrow --from and --to)")
    for e in answer.get("monitor_errors") or ():
        lines.append(f"monitor {e.get('monitor')!r} failed at {e.get('at')} ({e.get('stage')}): {e.get('error')}")
    return "\n".join(lines)
