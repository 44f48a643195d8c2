"""The warm-up judgment of a metric condition: what a young window can already tell.

A series' window is *young* until a whole window has been observed since the series
started or its monitor was loaded, whichever is later. Events before that were never
seen, so the volume aggregates (`count`, `rate`, `sum`, `distinct`) of a young window
are biased low: the true value is at least what it shows. Value statistics (`avg`,
`min`, `max`, percentiles) and ratios of like aggregates are not biased that way and
are judged at once (Prometheus: `min(x) < 100 for 1m` fires a minute after the first
low sample).

So each comparison gets a *direction* from the expression `left - right`, read once at
compile time: `up` when unseen events could only raise it (a volume aggregate on the
left, `count(a) * 2 + avg(b) > 5`), `down` when they could only lower it (`5 > count(a)`),
`mixed` when either (`count(a) - count(b)`, `count(a) * avg(b)`), `flat` when they do
not bias it (statistics, ratios `count(a) / count(b)`, literals). In a young window a
comparison whose verdict unseen events could still overturn has *no verdict*:

    direction  true is final when     false is final when
    up         >  >=   (and != with left > right)     <  <=  (and == with left > right)
    down       <  <=   (and != with left < right)     >  >=  (and == with left < right)
    mixed      never                                  never
    flat       always                                 always

`and`, `or` and `not` combine verdicts as Kleene's three-valued logic (false and
unknown = false, true or unknown = true, not unknown = unknown), and the condition
holds in a young window only when it comes out true. A missing value (an empty `avg`,
a zero denominator) in a comparison that has a direction is unknown too.

`young_condition(expr, num)` returns None when no comparison needs this (every
`count > N`, `distinct >= N`, every statistic and ratio): the young verdict then always
equals the full one and the runtime skips the warm-up altogether.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from dsl import ast as A
from engine import exprs

Values = list[Any]
Num = Callable[[A.Expr], Callable[[Values], Any]]
Verdict = Callable[[Values], "bool | None"]

VOLUME = frozenset({"count", "rate", "sum", "distinct"})
UP, DOWN, MIXED, FLAT, CONST = "up", "down", "mixed", "flat", "const"
_FLIP = {UP: DOWN, DOWN: UP}
_EQ = {"==": operator.eq, "!=": operator.ne}
# for each direction: the operators whose true / false verdict no unseen event overturns
_TRUE_FINAL = {UP: (">", ">="), DOWN: ("<", "<=")}
_FALSE_FINAL = {UP: ("<", "<="), DOWN: (">", ">=")}


def direction(expr: A.Expr) -> str:
    """How unseen events could move the value of the numeric expression `expr`."""
    if isinstance(expr, A.Aggregate):
        return UP if expr.func in VOLUME else FLAT
    if isinstance(expr, A.Unary) and expr.op == "-":
        return _flip(direction(expr.operand))
    if isinstance(expr, A.Binary) and expr.op in ("+", "-"):
        right = direction(expr.right)
        return _add(direction(expr.left), _flip(right) if expr.op == "-" else right)
    if isinstance(expr, A.Binary) and expr.op in ("*", "/"):
        return _product(expr.op, expr.left, expr.right)
    return CONST  # literals; a field outside an aggregate has no value in a window


def _flip(d: str) -> str:
    return _FLIP.get(d, d)


def _add(a: str, b: str) -> str:
    if a in (CONST, FLAT):
        return b if b not in (CONST, FLAT) else (FLAT if FLAT in (a, b) else CONST)
    if b in (CONST, FLAT) or a == b:
        return a
    return MIXED


def _product(op: str, left: A.Expr, right: A.Expr) -> str:
    dl, dr = direction(left), direction(right)
    if dr == CONST:  # scaled by a constant: its sign decides
        return _scaled(dl, _sign(right))
    if op == "*" and dl == CONST:
        return _scaled(dr, _sign(left))
    if op == "/" and dl == dr and dl != MIXED:
        return FLAT  # a ratio of like aggregates: the young window scales both alike
    if dl in (CONST, FLAT) and dr == FLAT:
        return FLAT
    return MIXED


def _scaled(d: str, sign: int) -> str:
    if sign == 0:
        return CONST
    return d if sign > 0 else _flip(d)


def _sign(expr: A.Expr) -> int:
    """The sign of a constant expression (0 when it has no value)."""
    v = _constant(expr)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return 0
    return (v > 0) - (v < 0)


def _constant(expr: A.Expr) -> Any:
    is_lit, v = exprs.literal(expr)
    if is_lit:
        return v
    if isinstance(expr, A.Unary) and expr.op == "-":
        return exprs.arith("-", 0, _constant(expr.operand))
    if isinstance(expr, A.Binary) and expr.op in ("+", "-", "*", "/"):
        return exprs.arith(expr.op, _constant(expr.left), _constant(expr.right))
    return None


def compare_direction(cmp: A.Compare) -> str:
    """The direction of `left - right`: how unseen events move the comparison."""
    return _add(direction(cmp.left), _flip(direction(cmp.right)))


def needs_warmup(expr: A.Expr, negated: bool = False) -> bool:
    """Whether some comparison in `expr` can be true in a young window when unseen
    events could make it false, given how many `not`s it stands under."""
    if isinstance(expr, A.Binary) and expr.op in ("and", "or"):
        return needs_warmup(expr.left, negated) or needs_warmup(expr.right, negated)
    if isinstance(expr, A.Unary) and expr.op == "not":
        return needs_warmup(expr.operand, not negated)
    if isinstance(expr, A.Compare):
        d = compare_direction(expr)
        if d in (CONST, FLAT):
            return False
        if d == MIXED or expr.op not in exprs.ORDER:
            return True
        final = _FALSE_FINAL if negated else _TRUE_FINAL
        return expr.op not in final[d]
    if isinstance(expr, A.Bool):
        return False
    return direction(expr) not in (CONST, FLAT)  # a bare number: true when not 0


def young_condition(expr: A.Expr, num: Num) -> Callable[[Values], bool] | None:
    """`fn(values) -> bool`: whether the condition holds in a young window (true
    whatever the unseen events were); None when that is always the full verdict."""
    if not needs_warmup(expr):
        return None
    verdict = _verdict(expr, num)
    return lambda vals: verdict(vals) is True


def _verdict(expr: A.Expr, num: Num) -> Verdict:
    if isinstance(expr, A.Binary) and expr.op in ("and", "or"):
        left, right = _verdict(expr.left, num), _verdict(expr.right, num)
        return _and(left, right) if expr.op == "and" else _or(left, right)
    if isinstance(expr, A.Unary) and expr.op == "not":
        inner = _verdict(expr.operand, num)

        def negate(vals: Values) -> bool | None:
            v = inner(vals)
            return None if v is None else not v
        return negate
    if isinstance(expr, A.Compare):
        return _comparison(expr, num)
    if isinstance(expr, A.Bool):
        return lambda vals, c=expr.value: c
    # a bare number holds when it is not 0: the comparison `expr != 0`
    return _comparison(A.Compare("!=", expr, A.Number(0)), num)


def _and(left: Verdict, right: Verdict) -> Verdict:
    def both(vals: Values) -> bool | None:
        a, b = left(vals), right(vals)
        if a is False or b is False:
            return False
        return True if a is True and b is True else None
    return both


def _or(left: Verdict, right: Verdict) -> Verdict:
    def either(vals: Values) -> bool | None:
        a, b = left(vals), right(vals)
        if a is True or b is True:
            return True
        return False if a is False and b is False else None
    return either


def _comparison(cmp: A.Compare, num: Num) -> Verdict:
    left, right, op = num(cmp.left), num(cmp.right), cmp.op
    d = compare_direction(cmp)
    if d in (CONST, FLAT):
        return lambda vals: _full(op, left(vals), right(vals))
    if d == MIXED:
        return lambda vals: None
    order = exprs.ORDER.get(op)
    eq = _EQ.get(op)
    # `ahead(a, b)`: unseen events could only move a further from b the way it leans
    ahead = operator.gt if d == UP else operator.lt
    true_final, false_final = op in _TRUE_FINAL[d], op in _FALSE_FINAL[d]

    def judge(vals: Values) -> bool | None:
        a, b = left(vals), right(vals)
        if not _number(a) or not _number(b):
            return None
        if order is not None:
            v = order(a, b)
            return v if (true_final if v else false_final) else None
        if eq is not None and ahead(a, b):
            return eq(a, b)  # past the constant already: `==` stays false, `!=` true
        return None
    return judge


def _full(op: str, a: Any, b: Any) -> bool:
    """The full verdict, as `engine.metrics` judges it: no value compares false."""
    return a is not None and b is not None and exprs.compare(op, a, b)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
