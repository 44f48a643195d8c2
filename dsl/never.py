"""W502: monitors that can never fire, for a few cases that are certain and easy to explain.

- a `where` that is constant false (`where false`, `where 1 > 2`);
- `on flow "A"` with `where flow == "B"` (or `flow in [...]` without A);
- a count, rate or distinct compared below zero (`count(x.y) < 0`);
- a field compared beyond its range: a duration below zero (`execution.duration < 0s`),
  a log level below `debug` or above `fatal`, a severity below `info` or above `critical`.

`disabled` is not this warning: it is deliberate.
"""

from __future__ import annotations

import operator

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, warning
from dsl.fields import resolve, resolve_trigger_field
from dsl.walk import conjuncts, trigger_families

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}
_NOT_CONSTANT = object()


def never_fires(m: A.Monitor) -> list[Diagnostic]:
    """W502 for each certain reason `m` can never fire (see the module docstring)."""
    out: list[Diagnostic] = []
    t = m.trigger
    if isinstance(t, A.ComparisonTrigger):
        field_type, problem = resolve_trigger_field(t.field) if len(t.field.parts) > 1 else (C.UNKNOWN, None)
        if problem is None:
            _range(t.op, field_type, t.value, t.span, out)
    if isinstance(t, A.MetricTrigger):
        for part in conjuncts(t.condition):
            _metric_range(part, out)
    families = trigger_families(t)
    flows = [v.value for c in m.clauses_of(A.OnClause) if c.scope == "flow" for v in c.values]
    for where in m.clauses_of(A.WhereClause):
        if fold(where.condition) is False:
            out.append(warning(where.condition.span, "W502", "this monitor can never fire: its `where` "
                               "condition is always false"))
            continue
        for part in conjuncts(where.condition):
            _where_part(part, families, flows, out)
    return out


def _where_part(e, families, flows: list[str], out: list[Diagnostic]) -> None:
    if not isinstance(e, A.Compare) or not isinstance(e.left, A.Path):
        return
    field_type, problem = resolve(e.left, families)
    if problem is None:
        _range(e.op, field_type, e.right, e.span, out)
    if flows and e.left.parts == ("flow",) and e.op in ("==", "in"):
        wanted = [e.right] if e.op == "==" else list(getattr(e.right, "items", ()))
        values = [w.value for w in wanted if isinstance(w, A.String)]
        if len(values) == len(wanted) and not set(values) & set(flows):
            out.append(warning(e.span, "W502", "this monitor can never fire: `on flow` "
                               + ", ".join(f'"{f}"' for f in flows) + " excludes this flow"))


def _range(op: str, field_type: str, value, span: A.Span, out: list[Diagnostic]) -> None:
    why = None
    if field_type == C.DURATION and isinstance(value, (A.Duration, A.Number)):
        limit = value.seconds if isinstance(value, A.Duration) else value.value
        if (op == "<" and limit <= 0) or (op == "<=" and limit < 0):
            why = "durations are never negative"
    elif field_type in (C.LEVEL, C.SEVERITY) and isinstance(value, A.Path) and len(value.parts) == 1:
        order = C.LOG_LEVELS if field_type == C.LEVEL else C.SEVERITIES
        word = value.parts[0]
        if (op == "<" and word == order[0]) or (op == ">" and word == order[-1]):
            why = f"nothing is {'below' if op == '<' else 'above'} `{word}`"
    if why:
        out.append(warning(span, "W502", f"this monitor can never fire: {why}"))


def _metric_range(e, out: list[Diagnostic]) -> None:
    if not isinstance(e, A.Compare) or e.op not in ("<", "<="):
        return
    if isinstance(e.left, A.Aggregate) and e.left.func in ("count", "rate", "distinct"):
        limit = fold(e.right)
        if isinstance(limit, (int, float)) and not isinstance(limit, bool) and \
                ((e.op == "<" and limit <= 0) or (e.op == "<=" and limit < 0)):
            out.append(warning(e.span, "W502", f"this monitor can never fire: `{e.left.func}` is "
                               "never below zero"))


def fold(e):
    """The constant value of a literal-only expression, else a private sentinel."""
    if isinstance(e, (A.Bool, A.Number, A.String)):
        return e.value
    if isinstance(e, A.Percent):
        return e.ratio
    if isinstance(e, A.Duration):
        return e.seconds
    if isinstance(e, A.Unary) and e.op == "not":
        v = fold(e.operand)
        return (not v) if isinstance(v, bool) else _NOT_CONSTANT
    if isinstance(e, A.Binary) and e.op in ("and", "or"):
        left, right = fold(e.left), fold(e.right)
        if e.op == "and" and (left is False or right is False):
            return False
        if e.op == "or" and (left is True or right is True):
            return True
        if isinstance(left, bool) and isinstance(right, bool):
            return left and right if e.op == "and" else left or right
        return _NOT_CONSTANT
    if isinstance(e, A.Compare) and e.op in _OPS:
        left, right = fold(e.left), fold(e.right)
        if _NOT_CONSTANT in (left, right) or type(left) is not type(right) and not (
                isinstance(left, (int, float)) and isinstance(right, (int, float))):
            return _NOT_CONSTANT
        try:
            return _OPS[e.op](left, right)
        except TypeError:
            return _NOT_CONSTANT
    return _NOT_CONSTANT
