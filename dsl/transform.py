"""Lark parse callbacks -> the typed AST of `dsl.ast`.

Used inline by the LALR parser (no intermediate tree). Problems that the grammar cannot
express (a bad escape, a trigger of no known form) are reported through `Context`: a
recoverable one is recorded and parsing goes on; a fatal one raises `DeclarationError`,
which the parser turns into a diagnostic and recovers from at the next declaration.
"""

from __future__ import annotations

import re
import threading

from lark import Transformer

from dsl.lexer import Tok as Token

from dsl import ast as A
from dsl.ast import Span
from dsl import precedence
from dsl.diagnostics import Diagnostic, error

DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.S)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}


class DeclarationError(Exception):
    """A declaration that parsed but has no meaning; carries its diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class Context(threading.local):
    """Per-parse state: the file name and recoverable diagnostics."""

    file: str = "<string>"
    diagnostics: list[Diagnostic]

    def __init__(self) -> None:
        self.diagnostics = []


context = Context()


NAMED_TERMINALS = frozenset(
    {"IDENT", "DOTTED", "STRING", "NUMBER", "PERCENT", "DURATION", "TIME_RANGE", "COMP"}
)


class _Marker:
    """A rule result that is not an AST node but still needs a position."""

    __slots__ = ("value", "span")

    def __init__(self, value, span: A.Span):
        self.value, self.span = value, span


def _start(c) -> tuple[int, int]:
    if type(c) is Token:
        return c[2], c[3]
    if type(c) is tuple:
        return _start(c[0])
    span = c.span
    return span[1], span[2]


def _end(c) -> tuple[int, int]:
    if type(c) is Token:
        return c[4], c[5]
    if type(c) is tuple:
        return _end(c[-1])
    span = c.span
    return span[3], span[4]


def cover(children) -> A.Span:
    if not children:
        return A.Span(context.file, 1, 1, 1, 1)
    (l1, c1), (l2, c2) = _start(children[0]), _end(children[-1])
    return A.Span(context.file, l1, c1, l2, c2)


_new_span = tuple.__new__  # Span is a named tuple: skip its Python-level __new__ on hot paths


def node(fn):
    """Call `fn(self, span, *named_children)`: keywords dropped, span covering all."""

    def callback(self, children):
        named = []
        for c in children:
            if type(c) is Token:  # fields: type, value, line, column, end_line, end_column
                kind = c[0]
                if kind == "STRING":
                    c = decode_string(c)
                elif kind not in NAMED_TERMINALS:
                    continue
            named.append(c)
        first, last = children[0], children[-1]
        if type(first) is Token:
            l1, c1 = first[2], first[3]
        else:
            l1, c1 = _start(first)
        if type(last) is Token:
            l2, c2 = last[4], last[5]
        else:
            l2, c2 = _end(last)
        return fn(self, _new_span(Span, (context.file, l1, c1, l2, c2)), *named)

    callback.__name__ = fn.__name__
    return callback


def token_span(tok: Token) -> A.Span:
    return _new_span(Span, (context.file, tok[2], tok[3], tok[4], tok[5]))


def _duration(tok: Token) -> A.Duration:
    return A.Duration(parse_duration(tok.value), token_span(tok))


def parse_duration(text: str) -> float:
    total = 0.0
    for amount, unit in _DURATION_PART.findall(text):
        total += float(amount) * DURATION_UNITS[unit]
    return int(total) if total == int(total) else total


def parse_number(text: str) -> int | float:
    if re.fullmatch(r"\d+", text):
        return int(text)
    value = float(text)
    return int(value) if value.is_integer() and "e" not in text.lower() and "." not in text else value


def decode_string(tok: Token) -> A.String:
    raw = tok[1]
    triple = raw.startswith('"""')
    body = raw[3:-3] if triple else raw[1:-1]
    if "\\" not in body:
        return A.String(body, triple, token_span(tok))

    def unescape(m: re.Match) -> str:
        esc = m.group(1)
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        if esc.startswith("u") and len(esc) == 5:
            return chr(int(esc[1:], 16))
        context.diagnostics.append(
            error(token_span(tok), "E002", f"unknown escape `\\{esc}` in string",
                  'use \\" \\\\ \\n \\t or \\uXXXX')
        )
        return esc

    return A.String(_ESCAPE.sub(unescape, body), triple, token_span(tok))


def _is_aggregate_free(expr) -> bool:
    if isinstance(expr, A.Aggregate):
        return False
    for name in ("left", "right", "operand"):
        sub = getattr(expr, name, None)
        if sub is not None and not _is_aggregate_free(sub):
            return False
    if isinstance(expr, A.ListExpr):
        return all(_is_aggregate_free(i) for i in expr.items)
    return True


class ToAst(Transformer):
    """One method per grammar rule (or alias); see grammar.lark."""

    # ---- file
    def start(self, children):
        return tuple(children)

    # ---- monitors
    @node
    def monitor(self, meta, *children):
        name = None
        rest = list(children)
        if rest and isinstance(rest[0], _Marker):
            name = rest.pop(0).value
        trigger, clauses = rest[0], tuple(rest[1:])
        return A.Monitor(trigger, clauses, name, meta)

    @node
    def monitor_name(self, meta, name):
        return _Marker(name, meta)

    @node
    def absence_trigger(self, meta, path, within):
        return A.AbsenceTrigger(path, _duration(within), meta)

    @node
    def metric_trigger(self, meta, expr, window):
        return A.MetricTrigger(expr, _duration(window), meta)

    @node
    def expr_trigger(self, meta, expr):
        span = meta
        if isinstance(expr, A.Path):
            return A.EventTrigger(expr, span)
        if isinstance(expr, A.Compare) and isinstance(expr.left, A.Path) and _is_aggregate_free(expr):
            return A.ComparisonTrigger(expr.left, expr.op, expr.right, span)
        if not _is_aggregate_free(expr):
            raise DeclarationError(error(
                span, "E403", "a metric trigger needs a window",
                "add `over DURATION`, e.g. `count(login.failed) > 100 over 5m`"))
        raise DeclarationError(error(
            span, "E403",
            "a trigger is an event pattern, a field comparison, `no PATTERN within D` or a metric",
            "put extra conditions in a `where` clause: `when execution.failed where flow == \"Sync\"`"))

    # ---- clauses
    @node
    def where_clause(self, meta, expr):
        return A.WhereClause(expr, span=meta)

    @node
    def on_clause(self, meta, scope, *values):
        return A.OnClause(scope.value, tuple(values), token_span(scope), meta)

    @node
    def by_clause(self, meta, *paths):
        return A.ByClause(tuple(paths), meta)

    @node
    def notify_clause(self, meta, *children):
        targets = tuple(c for c in children if isinstance(c, A.Target))
        via: tuple = ()
        without = False
        for c in children:
            if isinstance(c, tuple):
                via = c
            elif isinstance(c, _Marker):
                without = True
        return A.NotifyClause(targets, via, without, meta)

    @node
    def via_part(self, meta, *vias):
        return tuple(vias)

    @node
    def via(self, meta, kind, name=None):
        return A.Via(kind.value, name, token_span(kind), meta)

    @node
    def without_resolved(self, meta):
        return _Marker(True, meta)

    @node
    def target(self, meta, kind, name):
        return A.Target(kind.value, name, token_span(kind), meta)

    @node
    def every_clause(self, meta, d):
        return A.EveryClause(_duration(d), meta)

    @node
    def for_clause(self, meta, d):
        return A.ForClause(_duration(d), meta)

    @node
    def keep_clause(self, meta, d):
        return A.KeepFiringClause(_duration(d), meta)

    @node
    def escalate_clause(self, meta, *children):
        *targets, after = children
        return A.EscalateClause(tuple(targets), _duration(after), meta)

    @node
    def until_clause(self, meta, path, where=None):
        return A.UntilClause(path, where, meta)

    @node
    def severity_clause(self, meta, level):
        return A.SeverityClause(level.value, token_span(level), meta)

    @node
    def message_clause(self, meta, text):
        return A.MessageClause(text, meta)

    @node
    def label_clause(self, meta, name, value):
        return A.LabelClause(name.value, value, meta)

    @node
    def mute_clause(self, meta, schedule):
        return A.MuteClause(schedule, meta)

    @node
    def disabled_clause(self, meta):
        return A.DisabledClause(meta)

    # ---- expressions
    def expr(self, children):
        """An operator sequence; see `dsl.precedence`."""
        try:
            return precedence.build(children)
        except precedence.PrecedenceError as e:
            raise DeclarationError(e.diagnostic) from None

    def aggregate(self, children):
        span = cover(children)
        func = children[0]
        has_of = any(type(c) is Token and c.value == "of" and c.type not in NAMED_TERMINALS for c in children)
        named = [c for c in children[1:] if not isinstance(c, Token)]
        if has_of:
            field, pattern, *rest = named
        else:
            field, (pattern, *rest) = None, named
        where = rest[0] if rest else None
        return A.Aggregate(func.value, pattern, field, where, token_span(func), span)

    def atom(self, children):
        """`( expr )`: the parentheses only group."""
        return children[1]

    @node
    def list(self, meta, *items):
        return A.ListExpr(tuple(i for i in items if i is not None), meta)

    def path(self, children):
        tok = children[0]
        text = tok.value
        star = text.endswith(".*")
        parts = tuple((text[:-2] if star else text).split("."))
        return A.Path(parts, star, token_span(tok))

    # ---- literals
    @node
    def string(self, meta, value):
        return value

    @node
    def number(self, meta, tok):
        return A.Number(parse_number(tok.value), token_span(tok))

    @node
    def neg_number(self, meta, tok):
        return A.Number(-parse_number(tok.value), meta)

    @node
    def percent(self, meta, tok):
        return A.Percent(parse_number(tok.value[:-1]), token_span(tok))

    @node
    def duration(self, meta, tok):
        return _duration(tok)

    @node
    def true(self, meta):
        return A.Bool(True, meta)

    @node
    def false(self, meta):
        return A.Bool(False, meta)

    @node
    def null(self, meta):
        return A.Null(meta)

    @node
    def time_range(self, meta, tok):
        start_text, end_text = (p.strip() for p in tok.value.split("-"))
        span = token_span(tok)

        def minutes(text: str) -> int:
            h, m = (int(x) for x in text.split(":"))
            if h > 24 or m > 59 or (h == 24 and m):
                context.diagnostics.append(
                    error(span, "E309", f"`{text}` is not a time of day", "use HH:MM from 00:00 to 24:00"))
            return h * 60 + m

        return A.TimeRange(minutes(start_text), minutes(end_text), span)

    # ---- blocks
    @node
    def block(self, meta, kind, name, *items):
        return A.Block(kind.value, name, tuple(items), token_span(kind), meta)

    @node
    def value_item(self, meta, key, *values):
        return A.BlockItem(key.value, tuple(values), token_span(key), meta)

    @node
    def word_item(self, meta, key, *words):
        return A.BlockItem(key.value, tuple(A.Word(w.value, token_span(w)) for w in words),
                           token_span(key), meta)

    @node
    def json_object(self, meta, *members):
        return A.JsonObject(tuple(m for m in members if m is not None), meta)

    @node
    def json_member(self, meta, key, value):
        return (key, value)

    @node
    def json_array(self, meta, *items):
        return A.JsonArray(tuple(i for i in items if i is not None), meta)
