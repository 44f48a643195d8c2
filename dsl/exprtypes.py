"""Expression types: infer the type of every condition, report mismatches (E301).

Types are the names in `dsl.catalog` (string, number, duration, percent, bool, level,
severity, list, null, object, unknown). `unknown` (a `data` field) is compatible with
everything: only what is certain is reported. A `Scope` says which event families a
field refers to and whether aggregates (metric conditions) or fields (everything else)
may appear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error
from dsl.fields import check_pattern, family_of, resolve
from dsl.suggest import did_you_mean

NUMERIC = frozenset({C.NUMBER, C.PERCENT, C.DURATION})
ORDERED = frozenset({C.NUMBER, C.PERCENT, C.DURATION, C.STRING, C.LEVEL, C.SEVERITY})
ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_ARTICLE = {C.UNKNOWN: "a value", C.OBJECT: "an object", C.NULL: "null", C.LEVEL: "a log level"}


def describe(t: str) -> str:
    return _ARTICLE.get(t, ("an " if t[0] in "aeiou" else "a ") + t)


@dataclass
class Scope:
    """Where an expression sits. `metric`: the top of a metric condition (aggregates
    required, bare fields not allowed)."""

    families: frozenset[str]
    metric: bool = False
    out: list[Diagnostic] = field(default_factory=list)

    def report(self, d: Diagnostic | None) -> None:
        if d is not None:
            self.out.append(d)


_LITERAL_TYPES = {A.String: C.STRING, A.Number: C.NUMBER, A.Percent: C.PERCENT,
                  A.Duration: C.DURATION, A.Bool: C.BOOL, A.Null: C.NULL}


def infer(e: A.Expr, scope: Scope) -> str:
    """The type of `e`; problems go to `scope.out`."""
    if isinstance(e, A.Path):
        return _path(e, scope)
    literal = _LITERAL_TYPES.get(type(e))
    if literal is not None:
        return literal
    if isinstance(e, A.ListExpr):
        for item in e.items:
            infer(item, scope)
        return C.LIST
    if isinstance(e, A.Unary):
        return _unary(e, scope)
    if isinstance(e, A.Binary):
        return _logic(e, scope) if e.op in ("and", "or") else _arith(e, scope)
    if isinstance(e, A.Compare):
        from dsl.compare import check_compare  # compare builds on infer: import here, no cycle

        check_compare(e.op, e.left, e.right, scope, e.span)
        return C.BOOL
    if isinstance(e, A.Exists):
        _path(e.path, scope)
        return C.BOOL
    if isinstance(e, A.Aggregate):
        return _aggregate(e, scope)
    return C.UNKNOWN  # pragma: no cover - every Expr is handled above


def expect_bool(e: A.Expr, scope: Scope, what: str) -> None:
    """Infer `e` and report E301 unless it is a condition (true or false)."""
    t = infer(e, scope)
    if t not in (C.BOOL, C.UNKNOWN):
        scope.report(error(e.span, "E301", f"{what} must be true or false, not {describe(t)}",
                           "compare it, e.g. `x == \"value\"`"))


def _path(p: A.Path, scope: Scope) -> str:
    if scope.metric:
        scope.report(error(p.span, "E403", f"`{p.dotted}` is an event field; a metric condition "
                           "compares aggregates over the window",
                           f"filter inside the aggregate: `count(PATTERN where {p.dotted} == …)`"))
        return C.UNKNOWN
    t, problem = resolve(p, scope.families)
    scope.report(problem)
    return t


def _unary(e: A.Unary, scope: Scope) -> str:
    if e.op == "not":
        expect_bool(e.operand, scope, "the operand of `not`")
        return C.BOOL
    t = infer(e.operand, scope)
    if t not in NUMERIC and t != C.UNKNOWN:
        scope.report(error(e.operand.span, "E301", f"cannot negate {describe(t)}"))
        return C.UNKNOWN
    return t


def _logic(e: A.Binary, scope: Scope) -> str:
    expect_bool(e.left, scope, f"each side of `{e.op}`")
    expect_bool(e.right, scope, f"each side of `{e.op}`")
    return C.BOOL


def _arith(e: A.Binary, scope: Scope) -> str:
    left, right = infer(e.left, scope), infer(e.right, scope)
    for side, t in ((e.left, left), (e.right, right)):
        if t not in NUMERIC and t != C.UNKNOWN:
            scope.report(error(side.span, "E301", f"`{e.op}` needs numbers or durations, not {describe(t)}"))
            return C.UNKNOWN
    if C.UNKNOWN in (left, right):
        return C.UNKNOWN
    if e.op in ("+", "-"):
        if (left == C.DURATION) != (right == C.DURATION) and C.NUMBER not in (left, right):
            scope.report(error(e.span, "E301", f"cannot add or subtract {describe(left)} and {describe(right)}"))
        return C.DURATION if C.DURATION in (left, right) else (C.PERCENT if left == right == C.PERCENT else C.NUMBER)
    if e.op == "*":
        return C.DURATION if C.DURATION in (left, right) else C.NUMBER
    return C.DURATION if left == C.DURATION and right != C.DURATION else C.NUMBER


def _aggregate(e: A.Aggregate, scope: Scope) -> str:
    if not scope.metric:
        scope.report(error(e.span, "E403", f"`{e.func}(…)` is an aggregate; aggregates belong in a "
                           "metric trigger (`when … over DURATION`)",
                           f"e.g. `when {e.func}(…) > 5 over 10m`"))
    if e.func not in C.AGGREGATES:
        scope.report(error(e.func_span, "E203", f"unknown aggregate `{e.func}`",
                           did_you_mean(e.func, C.AGGREGATES) or "aggregates: " + ", ".join(C.AGGREGATES)))
    scope.report(check_pattern(e.pattern))
    inner = Scope(frozenset({family_of(e.pattern)}), metric=False, out=scope.out)
    if e.where is not None:
        expect_bool(e.where, inner, "the `where` of an aggregate")
    counting = e.func in C.COUNTING_AGGREGATES
    if counting and e.field is not None:
        scope.report(error(e.field.span, "E403", f"`{e.func}` counts events and takes no field",
                           f"write `{e.func}({e.pattern.dotted})`, or `sum({e.field.dotted} of …)`"))
    if e.func in C.AGGREGATES and not counting and e.field is None:
        scope.report(error(e.span, "E403", f"`{e.func}` needs a field: `{e.func}(FIELD of {e.pattern.dotted})`",
                           f"to count events write `count({e.pattern.dotted})`"))
    if e.field is None or counting:
        return C.NUMBER
    t = _path(e.field, inner)
    if e.func == "distinct":
        return C.NUMBER
    if t not in NUMERIC and t != C.UNKNOWN:
        scope.report(error(e.field.span, "E301", f"`{e.func}` needs a numeric field; "
                           f"`{e.field.dotted}` is {describe(t)}"))
        return C.NUMBER
    return C.DURATION if t == C.DURATION else C.NUMBER
