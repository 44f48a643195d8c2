"""Logging for `tocsin serve` and `tocsin worker`: one handler, each line once.

    configure_logging()                      # TOCSIN_LOG_LEVEL, TOCSIN_LOG_FORMAT
    configure_logging("debug", "json")
    adopt_sanic_loggers()                    # after Sanic() is built
    say(["tocsin listening on …"])           # the startup lines, as text or JSON
    complain("tocsin worker: set …")         # an error, on stderr or as JSON

One `StreamHandler` on the root logger (stderr), formatted as text
(`time LEVEL logger: message`) or, with `TOCSIN_LOG_FORMAT=json`, one JSON object per
line (`time`, `level`, `logger`, `message` and the line's `extra` fields, through
python-json-logger). Every other logger propagates to it and has no handler of its own:
Sanic's constructor installs its own handlers on `sanic.*` loggers, which also propagate
to the root, so each Sanic line used to appear twice; `adopt_sanic_loggers()` removes
them.

Libraries that log what must not be logged are held at WARNING unless
`TOCSIN_LOG_LEVEL=debug`: httpx and httpcore log every request's URL at INFO (webhook
URLs carry tokens), and Dramatiq logs messages it handles.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets")
QUIET_UNLESS_DEBUG = ("httpx", "httpcore", "dramatiq", "pika", "pymongo")
_HANDLER_NAME = "tocsin"


def parse_level(text: str | None) -> int:
    """`debug|info|warning|error` (any case) -> a logging level; ValueError otherwise."""
    value = (text or "info").strip().lower()
    if value not in LEVELS:
        raise ValueError(f"TOCSIN_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {text!r}")
    return LEVELS[value]


def parse_format(text: str | None) -> str:
    value = (text or "text").strip().lower()
    if value not in FORMATS:
        raise ValueError(f"TOCSIN_LOG_FORMAT must be text or json, not {text!r}")
    return value


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z", json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str | None = None, fmt: str | None = None, *,
                      env: Mapping[str, str] | None = None, stream=None) -> str:
    """Install the one root handler (again: it replaces the previous one); returns the
    format in use. Unset arguments come from `TOCSIN_LOG_LEVEL` / `TOCSIN_LOG_FORMAT`."""
    env = os.environ if env is None else env
    levelno = parse_level(level if level is not None else env.get("TOCSIN_LOG_LEVEL"))
    fmt = parse_format(fmt if fmt is not None else env.get("TOCSIN_LOG_FORMAT"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(levelno)
    for name in QUIET_UNLESS_DEBUG:
        logging.getLogger(name).setLevel(logging.DEBUG if levelno <= logging.DEBUG else logging.WARNING)
    adopt_sanic_loggers()
    return fmt


def adopt_sanic_loggers() -> None:
    """Sanic's loggers without handlers of their own: their lines reach the root once."""
    for name in SANIC_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def using_json() -> bool:
    root = logging.getLogger()
    return any(h.get_name() == _HANDLER_NAME and type(h.formatter).__name__ == "JsonFormatter"
               for h in root.handlers)


def say(lines: Iterable[str], logger: str = "tocsin") -> None:
    """What a command tells its operator: printed as is, or one JSON log line each."""
    if using_json():
        log = logging.getLogger(logger)
        for line in lines:
            log.info(line)
    else:
        print("\n".join(lines), flush=True)


def complain(line: str, logger: str = "tocsin") -> None:
    """A command's error: on stderr as is, or one JSON log line."""
    if using_json():
        logging.getLogger(logger).error(line)
    else:
        print(line, file=sys.stderr, flush=True)
