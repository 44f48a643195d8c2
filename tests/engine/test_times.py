"""engine/times.py: the one RFC 3339 parser and formatter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.times import is_rfc3339, parse_rfc3339, parse_time, read_written, rfc3339

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-11-22T07:30:00Z", datetime(2026, 11, 22, 7, 30, tzinfo=UTC)),
    ("2026-11-22t07:30:00z", datetime(2026, 11, 22, 7, 30, tzinfo=UTC)),
    ("2026-11-22 08:30:00+01:00", datetime(2026, 11, 22, 7, 30, tzinfo=UTC)),
    ("2026-11-22T07:30:00.125-00:30", datetime(2026, 11, 22, 8, 0, 0, 125000, tzinfo=UTC)),
    ("2026-11-22T07:30:00.123456789Z", datetime(2026, 11, 22, 7, 30, 0, 123456, tzinfo=UTC)),
])
def test_parse_takes_rfc3339_with_an_offset(text: str, expected: datetime) -> None:
    assert is_rfc3339(text)
    t = parse_rfc3339(text)
    assert t == expected and t.tzinfo is UTC


@pytest.mark.parametrize("text", [
    "2026-11-22", "2026-11-22T07:30:00", "20261122T073000Z", "2026-11-22T07:30Z", "1700000000",
    "2026-11-22T07:30:00+0100", " 2026-11-22T07:30:00Z", "２０２６-11-22T07:30:00Z",
])
def test_parse_refuses_what_is_not_rfc3339(text: str) -> None:
    assert not is_rfc3339(text)
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_a_date_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_rfc3339("2026-02-30T00:00:00Z")


def test_parse_time_reads_written_text_and_datetimes_naive_as_utc() -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert parse_time(aware) == aware and parse_time(aware).tzinfo is UTC
    assert parse_time(datetime(2026, 1, 2, 3, 4, 5)) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_time("2026-01-02T03:04:05.000z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_format_is_utc_milliseconds_with_z_and_reads_back() -> None:
    t = datetime(987, 6, 5, 4, 3, 2, 125999, tzinfo=timezone(timedelta(hours=-5)))
    text = rfc3339(t)
    assert text == "0987-06-05T09:03:02.125Z"
    assert parse_rfc3339(text) == t.replace(microsecond=125000)
    assert read_written(text) == parse_time(text)
