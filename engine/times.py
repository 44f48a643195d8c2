"""RFC 3339 times: the one parser and formatter of every package.

    rfc3339(t)               -> "2026-11-22T07:30:00.125Z"  (UTC, milliseconds, `Z`)
    parse_rfc3339(text)      -> aware UTC datetime; ValueError unless RFC 3339 with an offset
    parse_time(text_or_dt)   -> aware UTC datetime of a time Tocsin stored or wrote (naive = UTC)
    RFC3339_PATTERN          -> the text shape `parse_rfc3339` takes (the API's schema uses it)

`parse_rfc3339` is for text that arrives from outside (request bodies, query values,
command-line options): RFC 3339 section 5.6 with `T`, `t` or a space between date and time,
any number of fraction digits and a `Z` or `±hh:mm` offset. Python's `fromisoformat` takes
more (dates alone, basic `20261122T073000Z`, no offset), so the pattern is checked first.
`parse_time` reads what Tocsin wrote itself (stored events, cursors, snapshots) and
datetimes from the database, which PyMongo returns naive in UTC.

HTTP dates (`Retry-After`) are not RFC 3339: delivery reads those with `email.utils`.
This module lives in `engine/`, the lowest package that handles times, so the engine,
delivery and the service import it (design.md § Packages).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

# The times Tocsin takes (events, `until`): UTC RFC 3339 with a 4-digit year, and 1970 to
# 9000 covers every real event. The API (service/events_model.py) and `tocsin test` share them.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)

RFC3339_PATTERN = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
_RFC3339 = re.compile(RFC3339_PATTERN, re.ASCII).fullmatch


def is_rfc3339(text: str) -> bool:
    """Whether `text` has the shape of an RFC 3339 time with an offset (not whether the
    date exists: `parse_rfc3339` says that)."""
    return _RFC3339(text) is not None


def parse_rfc3339(text: str) -> datetime:
    """RFC 3339 text with an offset -> aware UTC datetime; ValueError (or OverflowError
    for a year-1 time east of UTC) otherwise."""
    if _RFC3339(text) is None:
        raise ValueError(f"not an RFC 3339 time with an offset: {text[:40]!r}")
    return datetime.fromisoformat(text.replace("z", "Z")).astimezone(timezone.utc)


def parse_time(value: str | datetime) -> datetime:
    """A time Tocsin wrote (RFC 3339 text) or a datetime as an aware UTC datetime; naive
    values are UTC."""
    t = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("z", "Z"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def rfc3339(t: datetime) -> str:
    """UTC RFC 3339 with milliseconds and a `Z`: `2026-11-22T07:30:00.125Z`."""
    # Not strftime("%Y"): it drops the zero padding of years before 1000 on glibc.
    # isoformat pads them, and costs a third less than formatting each field (the
    # service formats a few dozen times per alert).
    return t.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


# The engine's hot path (`engine.events.event_ms`, once per event and monitor) reads the
# text Tocsin wrote without a wrapper call; it takes the offset as written, naive as UTC.
read_written = datetime.fromisoformat
