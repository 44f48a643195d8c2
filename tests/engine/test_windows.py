"""Windowed aggregates against a brute-force computation over the raw events.

The documented bound: at time `now` a window of W with resolution r counts every event
younger than W - r, never one older than W, and some in between (those in the bucket
straddling the window's start). So a count lies between the brute-force counts over
(now - (W - r), now] and (now - W, now], and every aggregate equals the brute force over
exactly the events whose bucket is still inside the window. Events may lack the value
(None: a missing field or null) or carry a text: `count` and `rate` count every event,
`distinct` every value but None, the others numbers only.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.windows import PERCENTILES, Series, nearest_rank, resolution_ms

FUNCS = ["count", "rate", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99", "distinct"]

streams = st.lists(
    st.tuples(st.integers(0, 600_000),
              st.one_of(st.integers(-50, 500), st.none(), st.sampled_from(["a", "b"]))),
    min_size=0, max_size=60,
)


def brute(func: str, events: list, window_ms: int):
    if func == "count":
        return len(events)
    if func == "rate":
        return len(events) / (window_ms / 1000)
    if func == "distinct":
        return len({v for v in events if v is not None})
    values = [v for v in events if isinstance(v, int)]
    if func == "sum":
        return sum(values)
    if not values:
        return None
    if func == "avg":
        return sum(values) / len(values)
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    return nearest_rank(sorted(values), PERCENTILES[func])


@settings(max_examples=150, deadline=None)
@given(streams, st.sampled_from([1_000, 30_000, 60_000, 90_000, 300_000]), st.integers(0, 700_000))
def test_aggregates_match_brute_force_within_bucket_error(stream, window_ms, query_at):
    stream = sorted(stream, key=lambda e: e[0])
    series = Series(window_ms, FUNCS)
    r = resolution_ms(window_ms)
    kept: list[tuple[int, int]] = []
    now = 0
    for t, v in stream:
        if t > query_at:
            break
        now = max(now, t)
        series.advance(now)
        if all(series.add(t, i, v) for i in range(len(FUNCS))):
            kept.append((t, v))
    series.advance(query_at)
    inside = [v for t, v in kept if t // r > query_at // r - series.n]
    for func, got in zip(FUNCS, series.values()):
        want = brute(func, inside, window_ms)
        assert (got is None) == (want is None), func
        if want is not None:
            assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), (func, got, want)
    count = series.values()[0]
    lower = sum(1 for t, _ in kept if query_at - (window_ms - r) < t <= query_at)
    upper = sum(1 for t, _ in kept if query_at - window_ms < t <= query_at)
    assert lower <= count <= upper


def test_resolution_is_max_of_one_second_and_a_sixtieth() -> None:
    assert resolution_ms(10_000) == 1000
    assert resolution_ms(300_000) == 5000
    assert resolution_ms(3_600_000) == 60_000


def test_next_expiry_is_when_the_oldest_bucket_leaves() -> None:
    s = Series(60_000, ["count"])
    s.add(1_500, 0, None)
    assert s.next_expiry_ms() == 61_000
    s.advance(60_999)
    assert s.values() == [1]
    s.advance(61_000)
    assert s.values() == [0] and s.empty and s.next_expiry_ms() is None
    assert not s.add(500, 0, None)  # already out of the window


def test_missing_and_null_values_are_not_values() -> None:
    """ElastAlert's cardinality test: an event without the field leaves the count of
    distinct values where it was; no field aggregate sees it, and it opens no bucket."""
    s = Series(60_000, ["distinct", "sum", "avg", "min", "p50", "count"])
    for i, v in enumerate(["10.0.0.1", "10.0.0.2", None, "10.0.0.2"]):
        for agg in range(6):
            assert s.add(1_000 * i, agg, v)
    assert s.values() == [2, 0, None, None, None, 4]
    only_missing = Series(60_000, ["distinct", "sum", "avg", "max"])
    for agg in range(4):
        assert only_missing.add(1_000, agg, None)  # a fresh event: the series is evaluated
    assert only_missing.values() == [0, 0, None, None]
    assert only_missing.empty and only_missing.next_expiry_ms() is None


def test_numeric_aggregates_skip_texts_and_booleans_distinct_keeps_them() -> None:
    s = Series(60_000, ["sum", "max", "distinct"])
    for v in (5, "7", True, 2.5, None):
        for agg in range(3):
            s.add(0, agg, v)
    assert s.values() == [7.5, 5, 4]  # distinct: 5, "7", True, 2.5
