"""Lark parse callbacks -> the typed AST of `dsl.ast`.

Used inline by the LALR parser (no intermediate tree). Problems that the grammar cannot
express (a bad escape, a number out of range, a trigger of no known form) are reported
through the parse's `ToAst`: a recoverable one is recorded in its `diagnostics` and
parsing goes on; a fatal one raises `DeclarationError`, which the parser turns into a
diagnostic and recovers from at the next declaration.
"""

from __future__ import annotations

from lark import Transformer

from dsl.lexer import Tok as Token

from dsl import ast as A
from dsl.ast import Span
from dsl import precedence
from dsl.diagnostics import Diagnostic, error
from dsl.limits import MAX_DURATION_SECONDS, MAX_NESTING
from dsl.literals import DURATION_HINT, NUMBER_HINT, decode_escapes, parse_duration, parse_number, shown


class DeclarationError(Exception):
    """A declaration that parsed but has no meaning; carries its diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


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


def cover(children, file: str) -> A.Span:
    if not children:
        return A.Span(file, 1, 1, 1, 1)
    (l1, c1), (l2, c2) = _start(children[0]), _end(children[-1])
    return A.Span(file, l1, c1, l2, c2)


_new_span = tuple.__new__  # Span is a named tuple: skip its Python-level __new__ on hot paths


def node(fn):
    """Call `fn(self, span, *named_children)`: keywords dropped, span covering all."""

    def callback(self, children):
        named = []
        for c in children:
            if type(c) is Token:  # fields: type, value, line, column, end_line, end_column
                kind = c[0]
                if kind == "STRING":
                    c = self.decode_string(c)
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
        return fn(self, _new_span(Span, (self.file, l1, c1, l2, c2)), *named)

    callback.__name__ = fn.__name__
    return callback


def token_span(tok: Token, file: str) -> A.Span:
    return _new_span(Span, (file, tok[2], tok[3], tok[4], tok[5]))


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
    """One method per grammar rule (or alias); see grammar.lark.

    One instance per parse: it holds that parse's file name and its recoverable
    diagnostics, so parses in different threads share nothing."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    # ---- checks shared by several rules
    def _shallow(self, expr):
        """`expr`, unless its tree nests deeper than `MAX_NESTING` (then E003: the
        declaration is dropped, so no later stage walks such a tree)."""
        span = expr.span
        if span[1] == span[3] and span[4] - span[2] <= MAX_NESTING:
            return expr  # each level takes a token, so one short line cannot be too deep
        deep = precedence.too_deep(expr)
        if deep is not None:
            raise DeclarationError(error(
                deep.span, "E003", f"this condition nests more than {MAX_NESTING} levels deep",
                "split it into simpler conditions; brackets, `not`, `-` and operators inside "
                "operators each add a level"))
        return expr

    def _duration(self, tok: Token) -> A.Duration:
        seconds = parse_duration(tok.value)
        if seconds > MAX_DURATION_SECONDS:
            self.diagnostics.append(error(token_span(tok, self.file), "E005",
                                          f"`{shown(tok.value)}` is too long a duration", DURATION_HINT))
            seconds = MAX_DURATION_SECONDS  # stands in, so no later check reports it again
        return A.Duration(seconds, token_span(tok, self.file))

    def _number(self, tok: Token, text: str) -> int | float:
        value = parse_number(text)
        if value is None:
            self.diagnostics.append(error(token_span(tok, self.file), "E004",
                                          f"the number `{shown(tok.value)}` is out of range", NUMBER_HINT))
            return 0
        return value

    def decode_string(self, tok: Token) -> A.String:
        """A string literal; a refused escape is an E002 and parsing goes on."""
        raw = tok[1]
        triple = raw.startswith('"""')
        body = raw[3:-3] if triple else raw[1:-1]
        span = token_span(tok, self.file)
        if "\\" not in body:  # most strings: nothing to decode
            return A.String(body, triple, span)
        value, problems = decode_escapes(body)
        for message, hint in problems:
            self.diagnostics.append(error(span, "E002", message, hint))
        return A.String(value, triple, span)

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
        return A.AbsenceTrigger(path, self._duration(within), meta)

    @node
    def metric_trigger(self, meta, expr, window):
        return A.MetricTrigger(self._shallow(expr), self._duration(window), meta)

    @node
    def expr_trigger(self, meta, expr):
        span = meta
        self._shallow(expr)
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
        return A.WhereClause(self._shallow(expr), span=meta)

    @node
    def on_clause(self, meta, scope, *values):
        return A.OnClause(scope.value, tuple(values), token_span(scope, self.file), meta)

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
        return A.Via(kind.value, name, token_span(kind, self.file), meta)

    @node
    def without_resolved(self, meta):
        return _Marker(True, meta)

    @node
    def target(self, meta, kind, name):
        return A.Target(kind.value, name, token_span(kind, self.file), meta)

    @node
    def every_clause(self, meta, d):
        return A.EveryClause(self._duration(d), meta)

    @node
    def for_clause(self, meta, d):
        return A.ForClause(self._duration(d), meta)

    @node
    def keep_firing_clause(self, meta, d):
        return A.KeepFiringClause(self._duration(d), meta)

    @node
    def escalate_clause(self, meta, *children):
        *targets, after = children
        return A.EscalateClause(tuple(targets), self._duration(after), meta)

    @node
    def until_clause(self, meta, path, where=None):
        return A.UntilClause(path, where if where is None else self._shallow(where), meta)

    @node
    def severity_clause(self, meta, level):
        return A.SeverityClause(level.value, token_span(level, self.file), meta)

    @node
    def message_clause(self, meta, text):
        return A.MessageClause(text, meta)

    @node
    def runbook_clause(self, meta, link):
        return A.RunbookClause(link, meta)

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
            return precedence.build(children, self.file)
        except precedence.PrecedenceError as e:
            raise DeclarationError(e.diagnostic) from None

    def aggregate(self, children):
        span = cover(children, self.file)
        func = children[0]
        has_of = any(type(c) is Token and c.value == "of" and c.type not in NAMED_TERMINALS for c in children)
        named = [c for c in children[1:] if not isinstance(c, Token)]
        if has_of:
            field, pattern, *rest = named
        else:
            field, (pattern, *rest) = None, named
        where = rest[0] if rest else None
        return A.Aggregate(func.value, pattern, field, where, token_span(func, self.file), span)

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
        return A.Path(parts, star, token_span(tok, self.file))

    # ---- literals
    @node
    def string(self, meta, value):
        return value

    @node
    def number(self, meta, tok):
        return A.Number(self._number(tok, tok.value), token_span(tok, self.file))

    @node
    def neg_number(self, meta, tok):
        return A.Number(-self._number(tok, tok.value), meta)

    @node
    def percent(self, meta, tok):
        return A.Percent(self._number(tok, tok.value[:-1]), token_span(tok, self.file))

    @node
    def duration(self, meta, tok):
        return self._duration(tok)

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
        span = token_span(tok, self.file)

        def minutes(text: str) -> int:
            h, m = (int(x) for x in text.split(":"))
            if h > 24 or m > 59 or (h == 24 and m):
                self.diagnostics.append(
                    error(span, "E309", f"`{text}` is not a time of day", "use HH:MM from 00:00 to 24:00"))
            return h * 60 + m

        return A.TimeRange(minutes(start_text), minutes(end_text), span)

    # ---- blocks
    @node
    def block(self, meta, kind, name, *items):
        return A.Block(kind.value, name, tuple(items), token_span(kind, self.file), meta)

    @node
    def value_item(self, meta, key, *values):
        return A.BlockItem(key.value, tuple(values), token_span(key, self.file), meta)

    @node
    def word_item(self, meta, key, *words):
        return A.BlockItem(key.value, tuple(A.Word(w.value, token_span(w, self.file)) for w in words),
                           token_span(key, self.file), meta)

    @node
    def json_object(self, meta, *members):
        return A.JsonObject(tuple(m for m in members if m is not None), meta)

    @node
    def json_member(self, meta, key, value):
        return (key, value)

    @node
    def json_array(self, meta, *items):
        return A.JsonArray(tuple(i for i in items if i is not None), meta)
