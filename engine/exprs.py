"""Conditions and values of the language compiled to closures over an event.

`condition(expr)` gives `fn(event, family) -> bool`; `value(expr)` gives
`fn(event, family) -> value | None`. The AST is read once here and never again per
event (eql's compile-to-closures). Runtime rules where the checker cannot help:
- an absent field (or JSON null) makes every comparison false except `!=` and
  `not in`, which are true, and `== null`, which is true;
- values of different types compare false (the checker rejects what it can see);
- log levels and severities compare by rank when a bare word (`warn`) or a string
  meets a `level` / `severity` field;
- durations are seconds, percents fractions; division by zero has no value.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import re2

from dsl import ast as A
from engine.events import LEVEL_RANK, SEVERITY_RANK, resolver

Value = Callable[[dict, str], Any]
Cond = Callable[[dict, str], bool]

ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def literal(expr: A.Expr) -> tuple[bool, Any]:
    """(True, python value) for a literal node, else (False, None)."""
    if isinstance(expr, A.String):
        return True, expr.value
    if isinstance(expr, A.Number):
        return True, expr.value
    if isinstance(expr, A.Percent):
        return True, expr.ratio
    if isinstance(expr, A.Duration):
        return True, expr.seconds
    if isinstance(expr, A.Bool):
        return True, expr.value
    if isinstance(expr, A.Null):
        return True, None
    return False, None


def rank_table(expr: A.Expr) -> dict[str, int] | None:
    """The ordering of a `level` / `severity` field, when `expr` is one."""
    if isinstance(expr, A.Path) and expr.parts:
        if expr.parts[-1] == "level":
            return LEVEL_RANK
        if expr.parts[-1] == "severity":
            return SEVERITY_RANK
    return None


def _bare_word(expr: A.Expr, table: dict[str, int] | None) -> str | None:
    if table and isinstance(expr, A.Path) and len(expr.parts) == 1 and not expr.star:
        if expr.parts[0] in table:
            return expr.parts[0]
    return None


def value(expr: A.Expr, table: dict[str, int] | None = None) -> Value:
    """`fn(event, family)`: the value of a non-boolean expression (None when absent)."""
    word = _bare_word(expr, table)
    if word is not None:
        return lambda ev, fam: word
    is_lit, lit = literal(expr)
    if is_lit:
        return lambda ev, fam: lit
    if isinstance(expr, A.Path):
        return resolver(expr.parts)
    if isinstance(expr, A.Unary) and expr.op == "-":
        inner = value(expr.operand)
        return lambda ev, fam: _neg(inner(ev, fam))
    if isinstance(expr, A.Binary) and expr.op in "+-*/":
        return _arith(expr.op, value(expr.left), value(expr.right))
    if isinstance(expr, A.ListExpr):
        items = [value(i) for i in expr.items]
        return lambda ev, fam: [i(ev, fam) for i in items]
    cond = condition(expr)
    return cond


def _neg(v: Any) -> Any:
    return -v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def arith(op: str, a: Any, b: Any) -> Any:
    """`a OP b` on numbers; None when either has no value or on division by zero."""
    if a is None or b is None or isinstance(a, (bool, str)) or isinstance(b, (bool, str)):
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return a / b if b != 0 else None
    except TypeError:
        return None


def _arith(op: str, left: Value, right: Value) -> Value:
    return lambda ev, fam: arith(op, left(ev, fam), right(ev, fam))


def compare(op: str, a: Any, b: Any, table: dict[str, int] | None = None) -> bool:
    """`a OP b` with the module's rules for absent values, types and ranks."""
    if op == "==":
        return isinstance(a, bool) == isinstance(b, bool) and a == b
    if op == "!=":
        return not compare("==", a, b)
    if a is None or b is None:
        return False
    fn = ORDER.get(op)
    if fn is not None:
        if table is not None and isinstance(a, str) and isinstance(b, str):
            ra, rb = table.get(a.lower()), table.get(b.lower())
            return ra is not None and rb is not None and fn(ra, rb)
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        try:
            return fn(a, b)
        except TypeError:
            return False
    return _text_op(op, a, b)


def _text_op(op: str, a: Any, b: Any) -> bool:
    if op == "contains":
        if isinstance(a, str) and isinstance(b, str):
            return b in a
        return isinstance(a, list) and b in a
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    if op == "startswith":
        return a.startswith(b)
    if op == "endswith":
        return a.endswith(b)
    return False


def condition(expr: A.Expr) -> Cond:
    """`fn(event, family) -> bool` for a condition."""
    if isinstance(expr, A.Binary) and expr.op in ("and", "or"):
        left, right = condition(expr.left), condition(expr.right)
        if expr.op == "and":
            return lambda ev, fam: left(ev, fam) and right(ev, fam)
        return lambda ev, fam: left(ev, fam) or right(ev, fam)
    if isinstance(expr, A.Unary) and expr.op == "not":
        inner = condition(expr.operand)
        return lambda ev, fam: not inner(ev, fam)
    if isinstance(expr, A.Exists):
        get = resolver(expr.path.parts)
        return lambda ev, fam: get(ev, fam) is not None
    if isinstance(expr, A.Compare):
        return _compare_cond(expr)
    if isinstance(expr, A.Bool):
        const = expr.value
        return lambda ev, fam: const
    get = value(expr)
    return lambda ev, fam: bool(get(ev, fam))


def _compare_cond(expr: A.Compare) -> Cond:
    table = rank_table(expr.left) or rank_table(expr.right)
    left, op = value(expr.left, table), expr.op
    if op in ("in", "not in"):
        return _membership(left, expr.right, negate=op == "not in")
    if op == "matches":
        return _matches(left, expr.right)
    right = value(expr.right, table)
    is_lit, const = literal(expr.right)
    if is_lit and table is None:
        fast = _fast_compare(op, left, const, _field_name(expr.left))
        if fast is not None:
            return fast
    word = _bare_word(expr.right, table) or (const if is_lit and isinstance(const, str) else None)
    if table is not None and word is not None and op in ORDER:
        return _ranked(ORDER[op], left, table, table.get(word.lower()))
    return lambda ev, fam: compare(op, left(ev, fam), right(ev, fam), table)


def _field_name(expr: A.Expr) -> str | None:
    """The name of a one-part field (`step`), read straight off the envelope first."""
    if isinstance(expr, A.Path) and len(expr.parts) == 1 and not expr.star:
        return expr.parts[0]
    return None


def _fast_compare(op: str, left: Value, const: Any, name: str | None) -> Cond | None:
    """The hot paths, `field OP literal`, with the same results as `compare`. With
    `name` (a one-part field) the envelope is read inline, `left` only when it lacks it."""
    if isinstance(const, str):
        if op == "==":
            if name is not None:
                def equal_text(ev: dict, fam: str) -> bool:
                    v = ev.get(name)
                    return (v if v is not None else left(ev, fam)) == const
                return equal_text
            return lambda ev, fam: left(ev, fam) == const
        if op == "!=":
            return lambda ev, fam: left(ev, fam) != const
        if op == "contains":
            def contains(ev: dict, fam: str) -> bool:
                v = ev.get(name) if name is not None else None
                if v is None:
                    v = left(ev, fam)
                return (const in v) if isinstance(v, (str, list)) else False
            return contains
        return None
    if isinstance(const, (int, float)) and not isinstance(const, bool):
        fn = ORDER.get(op)
        if fn is not None:
            def order(ev: dict, fam: str) -> bool:
                v = left(ev, fam)
                return type(v) in (int, float) and fn(v, const)
            return order
        if op == "==":
            def equal(ev: dict, fam: str) -> bool:
                v = left(ev, fam)
                return type(v) is not bool and v == const
            return equal
    return None


def _ranked(fn: Callable[[Any, Any], bool], left: Value, table: dict[str, int],
            rank: int | None) -> Cond:
    """`level >= warn`: the hot path of `compare` with a rank table and a text on the
    right; anything but a known level (or severity) text on the left compares false."""
    if rank is None:
        return lambda ev, fam: False

    def ranked(ev: dict, fam: str) -> bool:
        v = left(ev, fam)
        if not isinstance(v, str):
            return False
        r = table.get(v.lower())
        return r is not None and fn(r, rank)
    return ranked


def _membership(left: Value, right: A.Expr, *, negate: bool) -> Cond:
    items = right.items if isinstance(right, A.ListExpr) else ()
    consts = [literal(i) for i in items]
    if all(ok for ok, _ in consts):
        values = [v for _, v in consts]
        try:
            pool: Any = frozenset(values)
        except TypeError:
            pool = values
        if negate:
            return lambda ev, fam: left(ev, fam) not in pool
        return lambda ev, fam: left(ev, fam) in pool
    getters = [value(i) for i in items]

    def dynamic(ev: dict, fam: str) -> bool:
        found = left(ev, fam) in [g(ev, fam) for g in getters]
        return found != negate
    return dynamic


def _matches(left: Value, right: A.Expr) -> Cond:
    is_lit, pattern = literal(right)
    if not is_lit or not isinstance(pattern, str):
        return lambda ev, fam: False
    try:
        rx = re2.compile(pattern)
    except Exception:  # the checker reports bad patterns; a monitor keeps running
        return lambda ev, fam: False

    def match(ev: dict, fam: str) -> bool:
        v = left(ev, fam)
        return isinstance(v, str) and rx.search(v) is not None
    return match
