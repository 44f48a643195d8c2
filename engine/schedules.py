"""`mute during "SCHEDULE"`: is a schedule active at a time, and until when.

A schedule (dsl.ruleset.Schedule) is active when the local time in its time zone falls
on one of its days (0 = Monday; none: every day) inside one of its hour ranges (none:
all day). A range whose end is at or before its start wraps past midnight and belongs
to the day it starts on.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from dsl.ruleset import Schedule


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _on_day(s: Schedule, weekday: int) -> bool:
    return not s.days or weekday in s.days


def is_active(s: Schedule, t: datetime) -> bool:
    local = t.astimezone(_zone(s.timezone))
    minute = local.hour * 60 + local.minute
    wd = local.weekday()
    if not s.hours:
        return _on_day(s, wd)
    for start, end in s.hours:
        if start < end:
            if start <= minute < end and _on_day(s, wd):
                return True
        elif (minute >= start and _on_day(s, wd)) or (minute < end and _on_day(s, (wd - 1) % 7)):
            return True
    return False


def active_until(s: Schedule, t: datetime) -> datetime | None:
    """The first moment after `t` at which `s` is inactive (None: not within 9 days).
    Activity only changes at midnight or at a range's start or end, so those are the
    only candidates."""
    tz = _zone(s.timezone)
    local = t.astimezone(tz)
    marks = sorted({0, *(m for r in s.hours for m in r)})
    day0 = datetime(local.year, local.month, local.day)
    for offset in range(9):
        day = day0 + timedelta(days=offset)
        for minute in marks:
            candidate = (day + timedelta(minutes=minute)).replace(tzinfo=tz)
            if candidate > local and not is_active(s, candidate):
                return candidate.astimezone(timezone.utc)
    return None
