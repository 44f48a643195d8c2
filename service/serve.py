"""`tocsin serve`: the API, the evaluator and (embedded) delivery in one process.

With no configuration: an embedded SecantusDB in `./.tocsin/data`, an in-process
broker and workers, rules from `./rules`, listening on 127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import logging
from urllib.parse import urlsplit

from dotenv import load_dotenv
from sanic import Sanic

from service.app import create_app
from service.config import Config
from service.delivery_bridge import describe_broker
from service.logs import adopt_sanic_loggers, complain, configure_logging, say
from service.membership import PartitionCountMismatch
from service.rules_store import read_directory

log = logging.getLogger("tocsin.service")
WARNING = "WARNING: "  # a start-up line that is also logged as a warning


def load_config(args: argparse.Namespace) -> Config:
    """Environment and `.env` (also exported, so the workers' `TOCSIN_SECRET_*` see it), then flags."""
    load_dotenv(".env", override=False)
    overrides = {k: v for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
                 if v is not None}
    return Config(**overrides)


def describe_database(config: Config) -> str:
    if not config.mongodb_uri:
        return f"embedded SecantusDB in {config.data_dir}"
    parts = urlsplit(config.mongodb_uri)
    return f"MongoDB at {parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}"  # no credentials


def rules_dir_warning(rules_dir: str, monitors: int) -> str | None:
    """Why no rule file of `TOCSIN_RULES_DIR` is loaded, when none is: a directory that
    does not exist (a typo, or started from the wrong folder) or holds no `*.rules`
    file. Otherwise the service would run quietly, alerting on nothing."""
    if not rules_dir:
        return None  # no directory configured: rules come through the API only
    files = read_directory(rules_dir)
    if files:
        return None
    what = "does not exist" if files is None else "has no *.rules file"
    return (f"{WARNING}the rules directory {rules_dir} {what}: {monitors} monitor(s) active, none from it. "
            f"Set TOCSIN_RULES_DIR or start tocsin serve where ./rules is; files are loaded once they appear.")


def startup_report(app: Sanic) -> list[str]:
    """What `tocsin serve` prints once it is up."""
    config, process = app.ctx.config, app.ctx.process
    active = process.rules.active
    monitors = len(getattr(active.ruleset, "monitors", ()))
    lines = [
        f"tocsin listening on {config.base_url} (API docs {config.base_url}/docs)",
        f"database: {describe_database(config)}",
        f"delivery: {describe_broker(config)}",
        f"rules: version {active.version}, {len(active.files)} file(s), {monitors} monitor(s) from {config.rules_dir}",
    ]
    missing = rules_dir_warning(config.rules_dir, monitors)
    if missing:
        lines.append(missing)
    outcome = process.startup_reload
    if outcome is not None and not outcome.ok:
        errors = [d for d in outcome.diagnostics if d.is_error]
        lines.append(f"{WARNING}rules in {config.rules_dir} have {len(errors)} error(s); "
                     f"version {active.version} stays active:")
        lines += [f"  {d.span.file}:{d.span.line}:{d.span.column}: {d.code} {d.message}" for d in errors[:20]]
    if not config.keys:
        lines.append("no TOCSIN_API_KEYS: no authentication, loopback only")
    return lines


def report_startup(app: Sanic) -> None:
    """Print the start-up report; its warnings (and the lines indented under them) also
    go to the log at WARNING, where whoever watches the service's logs looks."""
    lines = startup_report(app)
    say(lines)
    warning = False
    for line in lines:
        warning = line.startswith(WARNING) or (warning and line.startswith("  "))
        if warning:
            log.warning(line.removeprefix(WARNING).strip())


def configured(args: argparse.Namespace, command: str) -> Config | None:
    """The configuration with logging set up from it, or None once the problem has been
    reported (`tocsin serve` and `tocsin worker` exit 2 then)."""
    try:
        configure_logging()
        config = load_config(args)
        configure_logging(config.log_level, config.log_format)  # `.env` may set them
    except Exception as exc:  # pydantic names the bad variable
        complain(f"tocsin {command}: invalid configuration: {exc}")
        return None
    return config


def serve_command(args: argparse.Namespace) -> int:
    config = configured(args, "serve")
    if config is None:
        return 2
    problem = config.bind_error()
    if problem:
        complain(f"tocsin serve: {problem}")
        return 2
    app = create_app(config, name="tocsin")
    adopt_sanic_loggers()  # Sanic() installed handlers of its own: each line once

    @app.after_server_start
    async def _report(app_: Sanic) -> None:
        report_startup(app_)

    try:
        app.run(host=config.host, port=config.port, single_process=True, access_log=False, motd=False)
    except PartitionCountMismatch as exc:  # raised while starting: another count is live
        complain(f"tocsin serve: {exc}")
        return 2
    return 0
