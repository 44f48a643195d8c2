"""Metric trigger conditions compiled to functions of the window's aggregate values.

`compile_metric(trigger)` collects the distinct aggregates of the condition (each a
`AggSpec`: function, event pattern, field, `where`) and compiles the condition to
`fn(values) -> bool`, where `values[i]` is aggregate i's current value or None (no
value: an empty avg, a zero denominator). Arithmetic with None is None; a comparison
with None is false (language.md: a ratio whose denominator is zero compares false).

`young` is the same condition judged in a window not yet observed for its whole length
(engine/warmup.py), or None when that judgment is always the full one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dsl import ast as A
from engine import exprs, warmup
from engine.events import resolver
from engine.patterns import Pattern

Values = list[Any]


@dataclass(frozen=True, slots=True)
class AggSpec:
    func: str
    pattern: Pattern
    field: exprs.Value | None
    where: exprs.Cond | None


@dataclass(frozen=True, slots=True)
class MetricSpec:
    window_ms: int
    aggs: tuple[AggSpec, ...]
    condition: Callable[[Values], bool]
    value: Callable[[Values], Any]  # the left side of the first comparison
    threshold: Callable[[Values], Any]  # its right side
    young: Callable[[Values], bool] | None = None  # the warm-up verdict, when it differs


def compile_metric(trigger: A.MetricTrigger) -> MetricSpec:
    nodes: list[A.Aggregate] = []
    cond = _cond(trigger.condition, nodes)
    first = A.first_compare(trigger.condition)
    if first is not None:
        value, threshold = _num(first.left, nodes), _num(first.right, nodes)
    else:
        value = threshold = lambda vals: None
    young = warmup.young_condition(trigger.condition, lambda e: _num(e, nodes))
    aggs = tuple(  # after every `_num`: each aggregate of the condition is in `nodes`
        AggSpec(
            n.func, Pattern.of(n.pattern),
            resolver(n.field.parts) if n.field is not None else None,
            exprs.condition(n.where) if n.where is not None else None,
        )
        for n in nodes
    )
    return MetricSpec(int(trigger.window.seconds * 1000), aggs, cond, value, threshold, young)


def _index(node: A.Aggregate, nodes: list[A.Aggregate]) -> int:
    for i, n in enumerate(nodes):
        if n == node:
            return i
    nodes.append(node)
    return len(nodes) - 1


def _num(expr: A.Expr, nodes: list[A.Aggregate]) -> Callable[[Values], Any]:
    if isinstance(expr, A.Aggregate):
        i = _index(expr, nodes)
        return lambda vals: vals[i]
    is_lit, const = exprs.literal(expr)
    if is_lit:
        return lambda vals: const
    if isinstance(expr, A.Unary) and expr.op == "-":
        inner = _num(expr.operand, nodes)
        return lambda vals: exprs.arith("-", 0, inner(vals))
    if isinstance(expr, A.Binary) and expr.op in "+-*/":
        left, right = _num(expr.left, nodes), _num(expr.right, nodes)
        if expr.op == "/" and isinstance(expr.left, A.Aggregate) and isinstance(expr.right, A.Aggregate):
            i, j = _index(expr.left, nodes), _index(expr.right, nodes)

            def ratio(vals: Values) -> Any:  # the hot path: a ratio of two aggregates
                a, b = vals[i], vals[j]
                return a / b if a is not None and b else None
            return ratio
        if expr.op == "/":
            def divide(vals: Values) -> Any:  # the hot path: ratios of counts
                a, b = left(vals), right(vals)
                return a / b if a is not None and b else None
            return divide
        op = expr.op
        return lambda vals: exprs.arith(op, left(vals), right(vals))
    return lambda vals: None  # fields outside an aggregate have no value in a window


def _cond(expr: A.Expr, nodes: list[A.Aggregate]) -> Callable[[Values], bool]:
    if isinstance(expr, A.Binary) and expr.op in ("and", "or"):
        left, right = _cond(expr.left, nodes), _cond(expr.right, nodes)
        if expr.op == "and":
            return lambda vals: left(vals) and right(vals)
        return lambda vals: left(vals) or right(vals)
    if isinstance(expr, A.Unary) and expr.op == "not":
        inner = _cond(expr.operand, nodes)
        return lambda vals: not inner(vals)
    if isinstance(expr, A.Compare):
        left, right, op = _num(expr.left, nodes), _num(expr.right, nodes), expr.op
        fn = exprs.ORDER.get(op)
        is_lit, const = exprs.literal(expr.right)
        if fn is not None and isinstance(expr.left, A.Aggregate) and is_lit \
                and isinstance(const, (int, float)):
            i = _index(expr.left, nodes)

            def threshold(vals: Values) -> bool:  # the hot path: `count(x) > 100`
                a = vals[i]
                return a is not None and fn(a, const)
            return threshold
        if fn is not None:
            def order(vals: Values) -> bool:  # aggregates are numbers or None
                a, b = left(vals), right(vals)
                return a is not None and b is not None and fn(a, b)
            return order
        return lambda vals: _compare(op, left(vals), right(vals))
    if isinstance(expr, A.Bool):
        return lambda vals, c=expr.value: c
    num = _num(expr, nodes)
    return lambda vals: bool(num(vals))


def _compare(op: str, a: Any, b: Any) -> bool:
    """No value compares false, whatever the operator (`!=` included)."""
    return a is not None and b is not None and exprs.compare(op, a, b)
