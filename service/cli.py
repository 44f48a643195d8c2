"""`tocsin`: the one command-line entry point.

    tocsin lint PATH…                 check rule files (exit 0 clean, 1 errors, 2 usage)
    tocsin fmt [--check] PATH…        canonical formatting
    tocsin test RULES… --events F     run rules over recorded events, print alert events
                      [--render]      … and the notifications each would send
    tocsin serve                      the API, evaluator and (embedded) workers
    tocsin worker                     Dramatiq delivery workers on TOCSIN_REDIS_URL
    tocsin alerts list|show|ack|clear a running service's alerts (--url, --key, --format)
    tocsin silences list|add|expire   … and its silences
    tocsin backtest (--monitor M | RULES…) --from T [--to T]
                                      … its stored events replayed through rules, dry

Each command lives with the package that owns it; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.cli import EventCheck, PreviewFactory
    from engine.replay import ReplayLimits

BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE: what a shell reports for a reader that went away


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message on stderr."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tocsin", description="Tocsin: alerting rules engine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    lint = sub.add_parser("lint", help="check rule files")
    lint.add_argument("paths", nargs="+", metavar="PATH")
    lint.add_argument("--format", choices=("text", "json"), default="text")

    fmt = sub.add_parser("fmt", help="format rule files canonically")
    fmt.add_argument("paths", nargs="+", metavar="PATH")
    fmt.add_argument("--check", action="store_true", help="only report files that would change")

    test = sub.add_parser("test", help="run rules over recorded events")
    test.add_argument("paths", nargs="+", metavar="RULES")
    test.add_argument("--events", required=True, metavar="FILE.jsonl")
    test.add_argument("--until", metavar="RFC3339")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.add_argument("--render", action="store_true",
                      help="also show each alert event's notifications as they would be sent "
                           "(channel, URL, headers, subject, body, render warnings; secrets as ****); "
                           "nothing is sent")

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    worker = sub.add_parser("worker", help="run delivery workers")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=8)
    _add_remote_commands(sub)
    return parser


def _add_remote_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`tocsin alerts …` and `tocsin silences …` (service/alerts_cli.py): a running service's."""
    from service.alerts_cli import ALERT_FILTERS, current_user, matcher

    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--url", help="the service (default: TOCSIN_URL, else http://127.0.0.1:8080)")
    remote.add_argument("--key", help="an API key (default: TOCSIN_API_KEY; the variable keeps it out of ps)")
    remote.add_argument("--format", choices=("text", "json"), default="text",
                        help="a table for people, or the API's JSON for scripts")
    listing = argparse.ArgumentParser(add_help=False, parents=[remote])
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    acting = argparse.ArgumentParser(add_help=False, parents=[remote])
    acting.add_argument("--comment")
    acting.add_argument("--by", default=current_user(), help="who acts (default: your user name)")

    alerts = sub.add_parser("alerts", help="list, show, acknowledge and clear a running service's alerts")
    actions = alerts.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", parents=[listing], help="alerts, newest first")
    for name, help_text in ALERT_FILTERS.items():  # the service checks the values (exit 2)
        ls.add_argument(f"--{name}", help=help_text)
    actions.add_parser("show", parents=[remote], help="an alert with its alert events and deliveries") \
        .add_argument("id", metavar="ID")
    actions.add_parser("ack", parents=[acting], help="acknowledge: no more repeats or escalations") \
        .add_argument("id", metavar="ID")
    actions.add_parser("clear", parents=[acting], help="resolve by hand").add_argument("id", metavar="ID")

    silences = sub.add_parser("silences", help="list, add and expire a running service's silences")
    actions = silences.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[listing], help="silences in force, oldest first") \
        .add_argument("--all", action="store_true", help="expired ones too")
    add = actions.add_parser("add", parents=[acting], help="mute notifications of matching alerts")
    add.add_argument("matchers", nargs="+", type=matcher, metavar="NAME=VALUE",
                     help="all must match: monitor=NAME, a key field (flow=Sync) or a label")
    end = add.add_mutually_exclusive_group(required=True)
    end.add_argument("--duration", help="how long, e.g. 2h")
    end.add_argument("--until", metavar="RFC3339", help="when it ends")
    actions.add_parser("expire", parents=[remote], help="end a silence now").add_argument("id", metavar="ID")

    from service.backtest_cli import add_parser as add_backtest

    add_backtest(sub, remote)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a positive integer, not {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "lint":
        from dsl.cli import lint_command

        return lint_command(args)
    if args.command == "fmt":
        from dsl.cli import fmt_command

        return fmt_command(args)
    if args.command == "test":
        from engine.cli import test_command

        try:
            preview = _preview(args)
            limits = _test_limits()
        except (OSError, ValueError) as e:  # a secrets file or setting that cannot be read
            print(f"tocsin test: {e}", file=sys.stderr)
            return 2
        return test_command(args, check=_event_check(), preview=preview, limits=limits)
    if args.command == "serve":
        from service.serve import serve_command

        return serve_command(args)
    if args.command == "worker":
        from service.worker import worker_command

        return worker_command(args)
    if args.command in ("alerts", "silences"):
        from service.alerts_cli import alerts_command, silences_command

        return (alerts_command if args.command == "alerts" else silences_command)(args)
    if args.command == "backtest":
        from service.backtest_cli import backtest_command

        return backtest_command(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _preview(args: argparse.Namespace) -> PreviewFactory | None:
    """`--render`: delivery renders the notifications (the engine does not import it), with
    this environment's settings, secrets and public URL, as `tocsin serve` here would."""
    if not args.render:
        return None
    from delivery.preview import preview_factory
    from service.config import Config
    from service.delivery_bridge import delivery_settings

    config = Config()
    return preview_factory(public_url=config.base_url, settings=delivery_settings(config))


def _test_limits() -> ReplayLimits:
    """The replay bounds `POST /v1/test` has in this environment (TOCSIN_TEST_MAX_*)."""
    from service.config import Config

    return Config().test_limits


def _event_check() -> EventCheck:
    """Each line of `tocsin test --events` is validated as `POST /v1/test` validates an
    event: the API's model, any time allowed, a missing `time` is now."""
    from datetime import datetime, timezone

    from service.events_model import TooLarge, validate_event

    now = datetime.now(timezone.utc)

    def check(raw: Any) -> tuple[dict | None, list[dict[str, Any]]]:
        try:
            return validate_event(raw, 0, "", now, max_future=None)
        except TooLarge:
            return None, [{"path": "", "message": "larger than 64 KiB"}]

    return check


def entry() -> None:
    """The console script. A reader that goes away (`tocsin test … | head`) ends the
    output quietly: no traceback, and no second error when Python flushes stdout at exit."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = BROKEN_PIPE_EXIT
    sys.exit(code)


if __name__ == "__main__":
    entry()
