"""One-line text of a trigger for monitor listings (`GET /v1/monitors`, summaries)."""

from __future__ import annotations

from dsl import ast as A


def _dur(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{int(round(seconds * 1000))}ms"
    s, out = int(seconds), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            out += f"{s // size}{unit}"
            s %= size
    return out or "0s"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def expr_text(e: A.Expr) -> str:
    if isinstance(e, A.Path):
        return e.dotted
    if isinstance(e, A.String):
        return '"' + e.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(e, A.Number):
        return _num(e.value)
    if isinstance(e, A.Percent):
        return f"{_num(e.value)}%"
    if isinstance(e, A.Duration):
        return _dur(e.seconds)
    if isinstance(e, A.Bool):
        return "true" if e.value else "false"
    if isinstance(e, A.Null):
        return "null"
    if isinstance(e, A.ListExpr):
        return "[" + ", ".join(expr_text(i) for i in e.items) + "]"
    if isinstance(e, A.Unary):
        return f"not {expr_text(e.operand)}" if e.op == "not" else f"-{expr_text(e.operand)}"
    if isinstance(e, A.Binary):
        return f"({expr_text(e.left)} {e.op} {expr_text(e.right)})"
    if isinstance(e, A.Compare):
        return f"{expr_text(e.left)} {e.op} {expr_text(e.right)}"
    if isinstance(e, A.Exists):
        return f"exists {e.path.dotted}"
    if isinstance(e, A.Aggregate):
        inner = e.pattern.dotted
        if e.field is not None:
            inner = f"{e.field.dotted} of {inner}"
        if e.where is not None:
            inner += f" where {expr_text(e.where)}"
        return f"{e.func}({inner})"
    return "?"


def trigger_summary(t: A.Trigger) -> str:
    if isinstance(t, A.EventTrigger):
        return t.pattern.dotted
    if isinstance(t, A.ComparisonTrigger):
        return f"{t.field.dotted} {t.op} {expr_text(t.value)}"
    if isinstance(t, A.AbsenceTrigger):
        return f"no {t.pattern.dotted} within {_dur(t.within.seconds)}"
    return f"{expr_text(t.condition)} over {_dur(t.window.seconds)}"
