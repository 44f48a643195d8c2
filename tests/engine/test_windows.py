"""Windowed aggregates against a brute-force computation over the raw events.

The documented bound: at time `now` a window of W with resolution r counts every event
younger than W - r, never one older than W, and some in between (those in the bucket
straddling the window's start). So a count lies between the brute-force counts over
(now - (W - r), now] and (now - W, now], and every aggregate equals the brute force over
exactly the events whose bucket is still inside the window.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.windows import PERCENTILES, Series, nearest_rank, resolution_ms

FUNCS = ["count", "rate", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99", "distinct"]

streams = st.lists(
    st.tuples(st.integers(0, 600_000), st.integers(-50, 500)), min_size=0, max_size=60
)


def brute(func: str, values: list[int], window_ms: int):
    if func == "count":
        return len(values)
    if func == "rate":
        return len(values) / (window_ms / 1000)
    if func == "distinct":
        return len(set(values))
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
    stream = sorted(stream)
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
