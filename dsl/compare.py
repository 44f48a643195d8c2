"""Comparisons: which types may meet under which operator (E301), bare-word constants.

A bare word compared with a log level or a severity is that constant (`log.level >=
warn`); a misspelled one is reported with a suggestion. Durations are seconds, so they
compare with numbers too; a percent is a ratio and compares with numbers.
"""

from __future__ import annotations

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import error
from dsl.exprtypes import NUMERIC, Scope, describe, infer
from dsl.regexes import check_regex
from dsl.suggest import did_you_mean

_TEXT_OPS = ("contains", "startswith", "endswith")
_HINTS = {
    frozenset({C.DURATION, C.STRING}): "durations are written like `10s` or `1h30m`",
    frozenset({C.LEVEL, C.NUMBER}): "log levels are " + ", ".join(C.LOG_LEVELS),
    frozenset({C.LEVEL, C.STRING}): "log levels are " + ", ".join(C.LOG_LEVELS),
    frozenset({C.SEVERITY, C.NUMBER}): "severities are " + ", ".join(C.SEVERITIES),
}


def check_compare(op: str, left: A.Expr, right: A.Expr, scope: Scope, span: A.Span,
                  left_type: str | None = None) -> None:
    """Report every type problem of `left OP right` into `scope`.

    `left_type` is given when the left side is already resolved (a comparison trigger's
    `FAMILY.FIELD`)."""
    lt = left_type if left_type is not None else infer(left, scope)
    if op in ("in", "not in"):
        if not isinstance(right, A.ListExpr):
            infer(right, scope)
            scope.report(error(right.span, "E301", f"`{op}` needs a list: `[a, b]`"))
            return
        for item in right.items:
            _pair("==", lt, left, item, scope)
        return
    if op in _TEXT_OPS or op == "matches":
        _text(op, lt, left, right, scope)
        return
    _pair(op, lt, left, right, scope)


def _text(op: str, lt: str, left: A.Expr, right: A.Expr, scope: Scope) -> None:
    allowed_left = (C.STRING, C.UNKNOWN, C.LIST) if op == "contains" else (C.STRING, C.UNKNOWN)
    if lt not in allowed_left:
        scope.report(error(left.span, "E301", f"`{op}` works on text, not {describe(lt)}"))
    if op == "matches":
        scope.report(check_regex(right))
        return
    rt = infer(right, scope)
    if lt == C.STRING and rt not in (C.STRING, C.UNKNOWN):
        scope.report(error(right.span, "E301", f"`{op}` needs a string on the right, not {describe(rt)}"))


def _pair(op: str, lt: str, left: A.Expr, right: A.Expr, scope: Scope) -> None:
    if lt in (C.LEVEL, C.SEVERITY) and _constant_word(right) is not None:
        _check_constant(lt, right, scope)
        return
    rt = infer(right, scope)
    if compatible(lt, rt, op):
        return
    if C.OBJECT in (lt, rt) and isinstance(left, A.Path):
        hint = f"compare a field of it, e.g. `{left.dotted}.name`"
    elif lt == rt == C.BOOL:
        hint = "booleans compare with `==` and `!=` only"
    else:
        hint = _HINTS.get(frozenset({lt, rt}))
    scope.report(error(right.span, "E301", f"cannot compare {describe(lt)} with {describe(rt)}"
                       + ("" if op in ("==", "!=") else f" using `{op}`"), hint))


def compatible(a: str, b: str, op: str) -> bool:
    """Whether values of types `a` and `b` may meet under `op` (==, <, …)."""
    if C.UNKNOWN in (a, b):
        return True
    if C.NULL in (a, b):
        return op in ("==", "!=")
    if a in NUMERIC and b in NUMERIC:
        return {a, b} != {C.DURATION, C.PERCENT}
    if a != b or a in (C.OBJECT, C.LIST):
        return False
    return a != C.BOOL or op in ("==", "!=")


def _constant_word(e: A.Expr) -> str | None:
    if isinstance(e, A.Path) and len(e.parts) == 1 and not e.star:
        return e.parts[0]
    if isinstance(e, A.String):
        return e.value
    return None


def _check_constant(kind: str, e: A.Expr, scope: Scope) -> None:
    word = _constant_word(e)
    if kind == C.LEVEL:
        if word not in C.LOG_LEVELS:
            hint = did_you_mean(word, C.LOG_LEVELS) or "log levels are " + ", ".join(C.LOG_LEVELS)
            scope.report(error(e.span, "E301", f"`{word}` is not a log level", hint))
        return
    if word not in C.SEVERITIES:
        hint = did_you_mean(word, C.SEVERITIES) or "severities are " + ", ".join(C.SEVERITIES)
        scope.report(error(e.span, "E205", f"`{word}` is not a severity", hint))
