"""Value types handed to the rest of Tocsin: their JSON forms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.model import rfc3339


def test_rfc3339_is_utc_with_milliseconds():
    t = datetime(2026, 11, 22, 8, 30, 0, 125_999, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(t) == "2026-11-22T07:30:00.125Z"


def test_rfc3339_pads_early_years():
    assert rfc3339(datetime(169, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "0169-01-02T03:04:05.000Z"
