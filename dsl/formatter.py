"""AST -> canonical text (`tocsin fmt`), and the derived names of unnamed monitors.

Canonical form: one declaration after another, a blank line kept where the source had
one; a monitor on one line when it fits in `WIDTH` columns and carries no comment,
otherwise `when TRIGGER` then one clause per indented line; blocks one item per line;
JSON pretty-printed; durations as compounds (`1h30m`); parentheses only where needed.
Comments are kept: a comment at the end of a line stays at the end of that element's
line, a comment on a line of its own stays before the element that follows it.

Invariants (tested with Hypothesis): `parse(format_file(f)) == f` (spans aside) and
formatting is idempotent.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from decimal import Decimal

from dsl import ast as A
from dsl import catalog as C
from dsl.grammar import clause_word
from dsl.literals import parse_duration
from dsl.precedence import CHAINS, chain_operands

WIDTH = 100
INDENT = "  "

# ------------------------------------------------------------------ literals


def format_string(s: A.String | str, triple: bool | None = None) -> str:
    value = s.value if isinstance(s, A.String) else s
    if triple is None:
        triple = isinstance(s, A.String) and s.triple and "\n" in value
    out = []
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\n" if triple else "\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    quote = '"""' if triple else '"'
    return quote + "".join(out) + quote


def format_number(value: int | float) -> str:
    """Positional notation always (`0.00001`, never `1e-05`): `10%` and `5s` need it."""
    if isinstance(value, bool):  # pragma: no cover - not produced by the parser
        value = int(value)
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"  # stays a float when read back
    return text


_UNITS = (("d", 86400_000), ("h", 3600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def format_duration(seconds: float) -> str:
    if seconds < 0:
        return "-" + format_duration(-seconds)
    millis = seconds * 1000
    if float(millis).is_integer():
        total = int(millis)
        if total == 0:
            return "0s"
        parts = []
        for unit, size in _UNITS:
            amount, total = divmod(total, size)
            if amount:
                parts.append(f"{amount}{unit}")
        text = "".join(parts)
        if parse_duration(text) == seconds:
            return text
    return format_number(float(seconds)) + "s"


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --------------------------------------------------------------- expressions

_PREC = {**C.BINARY_OPERATORS, "not": C.NOT, "compare": C.COMPARE, "neg": C.NEG}
_ATOM = max(_PREC.values()) + 1


def _prec(e) -> int:
    if isinstance(e, A.Binary):
        return _PREC[e.op]
    if isinstance(e, A.Unary):
        return _PREC["not"] if e.op == "not" else _PREC["neg"]
    if isinstance(e, (A.Compare, A.Exists)):
        return _PREC["compare"]
    if isinstance(e, A.Number) and e.value < 0:
        return _PREC["neg"]
    if isinstance(e, (A.Percent,)) and e.value < 0:
        return _PREC["neg"]
    if isinstance(e, A.Duration) and e.seconds < 0:
        return _PREC["neg"]
    return _ATOM


def _wrap(e, needed: bool) -> str:
    text = format_expr(e)
    return f"({text})" if needed else text


def format_expr(e) -> str:
    """An expression with the fewest parentheses that keep its tree."""
    if isinstance(e, A.Path):
        return e.dotted
    if isinstance(e, A.String):
        return format_string(e, triple=False)
    if isinstance(e, A.Number):
        return format_number(e.value)
    if isinstance(e, A.Percent):
        return format_number(e.value) + "%"
    if isinstance(e, A.Duration):
        return format_duration(e.seconds)
    if isinstance(e, A.Bool):
        return "true" if e.value else "false"
    if isinstance(e, A.Null):
        return "null"
    if isinstance(e, A.ListExpr):
        return "[" + ", ".join(format_expr(i) for i in e.items) + "]"
    if isinstance(e, A.Binary):
        p = _PREC[e.op]
        if e.op in CHAINS:  # associative: the chain is printed flat, the parser rebalances it
            return f" {e.op} ".join(_wrap(x, _prec(x) < p) for x in chain_operands(e.op, e))
        return f"{_wrap(e.left, _prec(e.left) < p)} {e.op} {_wrap(e.right, _prec(e.right) <= p)}"
    if isinstance(e, A.Unary):
        if e.op == "not":
            return "not " + _wrap(e.operand, _prec(e.operand) < _PREC["not"])
        return "-" + _wrap(e.operand, _prec(e.operand) < _ATOM)
    if isinstance(e, A.Compare):
        p = _PREC["compare"]
        return f"{_wrap(e.left, _prec(e.left) <= p)} {e.op} {_wrap(e.right, _prec(e.right) <= p)}"
    if isinstance(e, A.Exists):
        return "exists " + e.path.dotted
    if isinstance(e, A.Aggregate):
        inner = e.pattern.dotted
        if e.field is not None:
            inner = f"{e.field.dotted} of {inner}"
        if e.where is not None:
            inner += " where " + format_expr(e.where)
        return f"{e.func}({inner})"
    raise TypeError(f"not an expression: {e!r}")


# ------------------------------------------------------------ triggers, clauses


def format_trigger(t: A.Trigger) -> str:
    if isinstance(t, A.EventTrigger):
        return t.pattern.dotted
    if isinstance(t, A.ComparisonTrigger):
        value = _wrap(t.value, _prec(t.value) <= _PREC["compare"])
        return f"{t.field.dotted} {t.op} {value}"
    if isinstance(t, A.AbsenceTrigger):
        return f"no {t.pattern.dotted} within {format_duration(t.within.seconds)}"
    if isinstance(t, A.MetricTrigger):
        return f"{format_expr(t.condition)} over {format_duration(t.window.seconds)}"
    raise TypeError(f"not a trigger: {t!r}")


def _targets(targets) -> str:
    return ", ".join(f"{t.kind} {format_string(t.name, triple=False)}" for t in targets)


def format_clause(c: A.Clause) -> str:
    if isinstance(c, A.WhereClause):
        return "where " + format_expr(c.condition)
    if isinstance(c, A.OnClause):
        return f"on {c.scope} " + ", ".join(format_string(v, triple=False) for v in c.values)
    if isinstance(c, A.ByClause):
        return "by " + ", ".join(p.dotted for p in c.fields)
    if isinstance(c, A.NotifyClause):
        text = "notify " + _targets(c.targets)
        if c.via:
            text += " via " + ", ".join(
                v.kind + (" " + format_string(v.name, triple=False) if v.name else "") for v in c.via)
        if c.without_resolved:
            text += " without resolved"
        return text
    if isinstance(c, A.EscalateClause):
        return f"escalate to {_targets(c.targets)} after {format_duration(c.after.seconds)}"
    if isinstance(c, A.UntilClause):
        text = "until " + c.pattern.dotted
        return text + (" where " + format_expr(c.where) if c.where is not None else "")
    if type(c) in _CLAUSE_TYPES:
        return _keyword_clause(c)
    raise TypeError(f"not a clause: {c!r}")


_CLAUSE_TYPES = frozenset(typing.get_args(A.Clause))


def _keyword_clause(c) -> str:
    """A clause that is its keywords and then its parts in order (`label team "core"`,
    `keep firing for 10m`): the grammar gives the keywords, the node the parts."""
    parts = [clause_word(type(c))]
    for f in fields(c):
        if f.compare:
            parts.append(_part(getattr(c, f.name)))
    return " ".join(parts)


def _part(value) -> str:
    if isinstance(value, str):
        return value  # a word: `severity critical`, `label team`
    if isinstance(value, A.String):
        return format_string(value)
    if isinstance(value, A.Duration):
        return format_duration(value.seconds)
    return format_expr(value)


_NAME_CLAUSES = (A.WhereClause, A.OnClause, A.ByClause)


def derived_name(m: A.Monitor) -> str:
    """The name of an unnamed monitor: its trigger plus its `where`, `on` and `by`
    clauses, normalized: `execution.duration >= 10s on flow "Sync"`. Who is notified,
    severity and the like are left out, so changing them keeps the monitor's alerts."""
    parts = [format_trigger(m.trigger)]
    parts += [format_clause(c) for c in m.clauses if isinstance(c, _NAME_CLAUSES)]
    return " ".join(parts)


def monitor_name(m: A.Monitor) -> str:
    return m.name.value if m.name is not None else derived_name(m)


def format_monitor(m: A.Monitor) -> str:
    """The monitor alone, canonical, without comments (also its identity on reload)."""
    return "\n".join(_monitor_lines(m, {}, {}))


def _monitor_lines(m: A.Monitor, trailing: dict[int, list[str]], leading: dict[int, list[str]]) -> list[str]:
    head = (f"monitor {format_string(m.name, triple=False)} " if m.name else "") + "when " + format_trigger(m.trigger)
    clauses = [format_clause(c) for c in m.clauses]
    one_line = " ".join([head, *clauses])
    # Comments from inside the head go on lines before it in either layout: they must
    # not choose the layout, or the next run (seeing them before the monitor) would
    # choose the other one.
    inside = any(leading.get(i) for i in range(1, len(clauses) + 1))
    if not trailing and not inside and len(one_line) <= WIDTH and "\n" not in one_line:
        return leading.get(0, []) + [one_line]
    lines = _with_comments(head, 0, trailing, leading, "")
    for i, text in enumerate(clauses, start=1):
        lines += _with_comments(text, i, trailing, leading, INDENT)
    return lines


def _with_comments(text: str, index: int, trailing, leading, indent: str) -> list[str]:
    out = [indent + c for c in leading.get(index, [])]
    body = (indent + text).split("\n")
    if trailing.get(index):
        body[-1] += "  " + " ".join(trailing[index])
    return out + body


# -------------------------------------------------------------------- blocks


_SCALARS = (A.String, A.Number, A.Bool, A.Null)


def _compact(v) -> str | None:
    """A flat object or array on one line, when it is short."""
    if isinstance(v, A.JsonObject) and all(isinstance(x, _SCALARS) for _, x in v.members):
        text = "{" + ", ".join(f"{format_string(k, triple=False)}: {_json(x, 0)}" for k, x in v.members) + "}"
    elif isinstance(v, A.JsonArray) and all(isinstance(x, _SCALARS) for x in v.items):
        text = "[" + ", ".join(_json(x, 0) for x in v.items) + "]"
    else:
        return None
    return text if len(text) <= 60 and "\n" not in text else None


def _json(v, depth: int) -> str:
    pad = INDENT * (depth + 1)
    compact = _compact(v)
    if compact is not None:
        return compact
    if isinstance(v, A.JsonObject):
        if not v.members:
            return "{}"
        inner = [f"{pad}{format_string(k, triple=False)}: {_json(val, depth + 1)}" for k, val in v.members]
        return "{\n" + ",\n".join(inner) + "\n" + INDENT * depth + "}"
    if isinstance(v, A.JsonArray):
        if not v.items:
            return "[]"
        inner = [pad + _json(i, depth + 1) for i in v.items]
        return "[\n" + ",\n".join(inner) + "\n" + INDENT * depth + "]"
    if isinstance(v, A.String):
        return format_string(v, triple=False)
    return _value(v, depth)


def _value(v, depth: int = 1) -> str:
    if isinstance(v, (A.JsonObject, A.JsonArray)):
        return _json(v, depth)
    if isinstance(v, A.Word):
        return v.value
    if isinstance(v, A.TimeRange):
        return f"{format_time(v.start)}-{format_time(v.end)}"
    if isinstance(v, A.String):
        return format_string(v)
    return format_expr(v)


def format_item(item: A.BlockItem) -> str:
    sep = " " if item.key == "header" else ", "
    if all(isinstance(v, A.Word) for v in item.values):
        sep = ", "
    return item.key + " " + sep.join(_value(v) for v in item.values)


def _block_lines(b: A.Block, trailing, leading) -> list[str]:
    head = f"{b.kind} {format_string(b.name, triple=False)} {{"
    lines = _with_comments(head, 0, trailing, leading, "")
    for i, item in enumerate(b.items, start=1):
        lines += _with_comments(format_item(item), i, trailing, leading, INDENT)
    lines += _with_comments("}", len(b.items) + 1, trailing, leading, "")
    return lines


def format_block(b: A.Block) -> str:
    return "\n".join(_block_lines(b, {}, {}))


# ---------------------------------------------------------------------- files


def _elements(decl) -> list[A.Span]:
    """Spans of a declaration's lines-to-be: head, then clauses/items (, then `}`)."""
    if isinstance(decl, A.Monitor):
        head_end = decl.trigger.span
        head = A.Span(decl.span.file, decl.span.line, decl.span.column, head_end.end_line, head_end.end_column)
        return [head] + [c.span for c in decl.clauses]
    head = A.Span(decl.span.file, decl.span.line, decl.span.column, decl.name.span.end_line,
                  decl.name.span.end_column + 2)
    close = A.Span(decl.span.file, decl.span.end_line, decl.span.end_column - 1,
                   decl.span.end_line, decl.span.end_column)
    return [head] + [i.span for i in decl.items] + [close]


def _attach(decl, comments: list[A.Comment]) -> tuple[dict, dict]:
    """Comments inside a declaration -> (trailing, leading) by element index."""
    trailing: dict[int, list[str]] = {}
    leading: dict[int, list[str]] = {}
    spans = _elements(decl)
    for c in comments:
        line = c.span.line
        ends_here = [i for i, s in enumerate(spans) if s.end_line == line]
        inside = [i for i, s in enumerate(spans) if s.line <= line < s.end_line]
        if inside and not ends_here:
            leading.setdefault(inside[-1], []).append(c.text)
            continue
        if ends_here:
            trailing.setdefault(ends_here[-1], []).append(c.text)
            continue
        after = [i for i, s in enumerate(spans) if s.line > line]
        if after:
            leading.setdefault(after[0], []).append(c.text)
        else:
            trailing.setdefault(len(spans) - 1, []).append(c.text)
    return trailing, leading


def format_file(rf: A.RuleFile) -> str:
    """The whole file, canonical, comments kept; ends with one newline."""
    comments = sorted(rf.comments, key=lambda c: (c.span.line, c.span.column))
    out: list[str] = []
    last_line = 0  # source line of the last thing written
    ci = 0
    for decl in rf.declarations:
        while ci < len(comments) and comments[ci].span.line < decl.span.line:
            last_line = _put_comment(out, comments[ci], last_line)
            ci += 1
        inner = []
        while ci < len(comments) and comments[ci].span.line <= decl.span.end_line:
            inner.append(comments[ci])
            ci += 1
        trailing, leading = _attach(decl, inner)
        _gap(out, last_line, decl.span.line)
        if isinstance(decl, A.Monitor):
            out += _monitor_lines(decl, trailing, leading)
        else:
            out += _block_lines(decl, trailing, leading)
        last_line = decl.span.end_line
    for c in comments[ci:]:
        last_line = _put_comment(out, c, last_line)
    return "\n".join(out) + "\n" if out else ""


def _put_comment(out: list[str], c: A.Comment, last_line: int) -> int:
    """A comment between declarations: at the end of the line it shared, else its own line."""
    if c.span.line == last_line and out:
        out[-1] += "  " + c.text
    else:
        _gap(out, last_line, c.span.line)
        out.append(c.text)
    return c.span.line


def _gap(out: list[str], last_line: int, next_line: int) -> None:
    if out and next_line - last_line > 1:
        out.append("")


def format_text(text: str, file: str = "<string>") -> tuple[str | None, list]:
    """Format source text; (None, diagnostics) when it has syntax errors."""
    from dsl.parser import parse

    rf, diagnostics = parse(text, file)
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    return format_file(rf), diagnostics


def to_json_value(v):
    """A JSON literal node -> plain Python JSON (strings stay unrendered templates)."""
    if isinstance(v, A.JsonObject):
        return {k.value: to_json_value(val) for k, val in v.members}
    if isinstance(v, A.JsonArray):
        return [to_json_value(i) for i in v.items]
    if isinstance(v, (A.String, A.Number, A.Bool)):
        return v.value
    if isinstance(v, A.Null):
        return None
    raise TypeError(f"not JSON: {v!r}")


__all__ = ["format_file", "format_text", "format_monitor", "format_block", "format_expr",
           "format_trigger", "format_clause", "derived_name", "monitor_name", "to_json_value"]
