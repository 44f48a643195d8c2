"""The warm-up judgment (engine/warmup.py): directions, which conditions need it, the
three-valued verdicts, and that a young verdict of true is never overturned by events
the young window did not see."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl import ast as A
from engine.metrics import compile_metric
from engine.warmup import compare_direction, direction, needs_warmup
from tests.engine.support import rules


def trigger(condition: str) -> A.MetricTrigger:
    """The metric trigger of `condition`, the event types `a` and `b` read as `a.x`, `b.x`."""
    text = re.sub(r"\b([ab])\)", r"\1.x)", condition)
    ruleset = rules(f'monitor "m" when {text} over 1m')
    return ruleset.monitors[0].monitor.trigger


def left(condition: str) -> A.Expr:
    cmp = trigger(condition).condition
    assert isinstance(cmp, A.Compare)
    return cmp.left


DIRECTIONS = {
    "count(a) > 1": "up",
    "rate(a) > 1": "up",
    "sum(v of a) > 1": "up",
    "distinct(v of a) > 1": "up",
    "avg(v of a) > 1": "flat",
    "p99(v of a) > 1": "flat",
    "-count(a) > 1": "down",
    "count(a) * 2 > 1": "up",
    "count(a) * -2 > 1": "down",
    "count(a) / 60 > 1": "up",
    "count(a) + avg(v of a) > 1": "up",
    "count(a) - count(b) > 1": "mixed",
    "count(a) / count(b) > 1": "flat",
    "count(a) / avg(v of a) > 1": "mixed",
    "count(a) * count(b) > 1": "mixed",
    "10 / count(a) > 1": "mixed",
    "avg(v of a) / max(v of a) > 1": "flat",
}


@pytest.mark.parametrize("condition", list(DIRECTIONS))
def test_direction_of_the_left_side(condition: str) -> None:
    assert direction(left(condition)) == DIRECTIONS[condition]


def test_a_comparison_reads_left_minus_right() -> None:
    assert compare_direction(trigger("5 > count(a)").condition) == "down"
    assert compare_direction(trigger("count(a) > avg(v of a)").condition) == "up"
    assert compare_direction(trigger("count(a) > count(b)").condition) == "mixed"
    assert compare_direction(trigger("avg(v of a) > 5").condition) == "flat"


NEEDS = {
    # more events keep it true: judged at once
    "count(a) > 5": False,
    "distinct(ip of a) >= 50": False,
    "5 < count(a)": False,
    "-count(a) < -5": False,
    "not (count(a) < 2)": False,
    "count(a) > 5 and count(b) >= 1": False,
    "count(a) > 5 or avg(v of a) < 3": False,
    # statistics and ratios: judged at once
    "avg(v of a) < 100": False,
    "min(v of a) == 0": False,
    "count(a) / count(b) < 10%": False,
    # more events could make it false: warm-up
    "count(a) < 2": True,
    "rate(a) <= 0.5": True,
    "sum(v of a) == 0": True,
    "distinct(v of a) != 3": True,
    "5 > count(a)": True,
    "not (count(a) >= 2)": True,
    "count(a) > 5 and count(b) < 1": True,
    "count(a) - count(b) > 3": True,
}


@pytest.mark.parametrize("condition", list(NEEDS))
def test_which_conditions_need_a_warm_up(condition: str) -> None:
    assert needs_warmup(trigger(condition).condition) is NEEDS[condition]
    assert (compile_metric(trigger(condition)).young is not None) is NEEDS[condition]


YOUNG = [  # (condition, aggregate values in order of appearance, holds in full, holds young)
    ("count(a) < 2", [1], True, False),
    ("count(a) < 2", [3], False, False),
    ("count(a) == 0", [0], True, False),
    ("count(a) != 0", [3], True, True),  # no event can bring 3 back to 0
    ("count(a) != 5", [3], True, False),
    ("not (count(a) == 5)", [7], True, True),
    ("not (count(a) >= 2)", [1], True, False),
    ("not (count(a) >= 2)", [2], False, False),
    ("count(a) < 3 and avg(v of a) > 100", [2, 500], True, False),
    ("count(a) < 3 and avg(v of a) > 100", [2, 50], False, False),
    ("count(a) < 1 or max(v of a) > 500", [0, 600], True, True),
    ("count(a) < 1 or max(v of a) > 500", [0, None], True, False),
    ("not (count(a) < 1 or max(v of a) > 500)", [2, 100], True, True),  # needs no warm-up
    ("not (count(a) < 1 or max(v of a) > 500)", [0, 100], False, False),
    ("count(a) - count(b) > 3", [9, 1], True, False),
    ("count(a) + avg(v of a) < 10", [1, None], False, False),
    ("not (count(a) + avg(v of a) > 10)", [1, None], True, False),
]


@pytest.mark.parametrize("condition, values, full, young", YOUNG)
def test_young_verdicts(condition: str, values: list, full: bool, young: bool) -> None:
    spec = compile_metric(trigger(condition))
    assert spec.condition(values) is full
    judge = spec.young if spec.young is not None else spec.condition  # None: the same verdict
    assert judge(values) is young


SOUND = [
    "count(a) < 2", "count(a) <= 2", "count(a) == 2", "count(a) != 2", "count(a) > 2",
    "2 > count(a)", "not (count(a) >= 2)", "count(a) * 2 + sum(v of b) < 9",
    "count(a) < 3 and avg(v of b) > 4", "count(a) < 1 or max(v of b) > 5",
    "not (count(a) < 1 or count(b) >= 4)", "count(a) - count(b) > 1",
    "-count(a) > -3 and not (count(b) == 1)", "not (count(a) != 3) or count(b) < 2",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SOUND), st.lists(st.integers(0, 6), min_size=4, max_size=4),
       st.lists(st.integers(0, 6), min_size=4, max_size=4))
def test_a_young_verdict_is_never_overturned_by_unseen_events(condition: str, seen: list[int],
                                                              unseen: list[int]) -> None:
    """Whatever the unseen events add to the volume aggregates (the statistics being
    judged as they are), a condition the young window holds true is true in full."""
    spec = compile_metric(trigger(condition))
    funcs = [a.func for a in spec.aggs]
    observed = [float(s) if f in ("avg", "max") else s for f, s in zip(funcs, seen)]
    actual = [o + u if f not in ("avg", "max") else o for f, o, u in zip(funcs, observed, unseen)]
    young = spec.young if spec.young is not None else spec.condition
    if young(observed):
        assert spec.condition(actual), (observed, actual)
