"""Operator precedence for expressions: a flat operand/operator sequence -> a tree.

The grammar hands an expression over as `[operand, op, operand, …]` with prefix
operators (`not`, `-`, `exists`) in front of operands; this module applies the
language's precedence, loosest first:

    or  <  and  <  not (prefix)  <  == != < <= > >= in, not in, contains,
    startswith, endswith, matches (non-associative)  <  + -  <  * /  <  - (prefix)

Binary operators associate to the left. A comparison cannot take another comparison
as an operand without parentheses, and `not`/`exists` cannot stand where an
arithmetic operand is expected; both are syntax errors with a clear message.
"""

from __future__ import annotations

from dsl.lexer import Tok as Token

from dsl import ast as A
from dsl.diagnostics import error

OR, AND, NOT, COMPARE, SUM, PRODUCT, NEG = 1, 2, 3, 4, 5, 6, 7

BINARY = {"or": OR, "and": AND, "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT}
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains",
                         "startswith", "endswith", "matches"})


class PrecedenceError(Exception):
    """Raised with the diagnostic of an operator used where it cannot stand."""

    def __init__(self, diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _is_op(item) -> bool:
    return isinstance(item, Token) and item.type not in ("IDENT", "DOTTED")


def _span(start, end_node) -> A.Span:
    s = _start_span(start)
    e = end_node.span
    return A.Span(s.file, s.line, s.column, e.end_line, e.end_column)


def _start_span(item) -> A.Span:
    if isinstance(item, Token):
        from dsl.transform import token_span

        return token_span(item)
    return item.span


def _fail(item, message: str, hint: str | None = None):
    raise PrecedenceError(error(_start_span(item), "E001", message, hint))


class _Reader:
    def __init__(self, items: list) -> None:
        self.items, self.pos = items, 0

    def peek_op(self) -> tuple[str | None, int]:
        """The operator at the cursor and how many tokens it spans (`not in`: 2)."""
        if self.pos >= len(self.items):
            return None, 0
        tok = self.items[self.pos]
        if not _is_op(tok):  # pragma: no cover - the grammar alternates operands/ops
            return None, 0
        if tok.value == "not":
            return "not in", 2
        return str(tok), 1

    def operand(self, min_prec: int):
        item = self.items[self.pos]
        if _is_op(item):
            word = str(item)
            self.pos += 1
            if word == "not":
                if min_prec > NOT:
                    _fail(item, "`not` cannot stand here", "wrap it in parentheses: `(not …)`")
                inner = self.expression(NOT)
                return A.Unary("not", inner, _span(item, inner))
            if word == "-":
                inner = self.expression(NEG)
                return _negate(item, inner)
            if word == "exists":
                if min_prec > COMPARE:
                    _fail(item, "`exists` cannot stand here", "wrap it in parentheses: `(exists …)`")
                path = self.items[self.pos]
                self.pos += 1
                node = A.Exists(path, _span(item, path))
                op, _ = self.peek_op()
                if op in COMPARISONS or BINARY.get(op or "", 0) > COMPARE:
                    _fail(self.items[self.pos], f"`exists …` is already a condition; `{op}` cannot follow it",
                          "wrap it in parentheses or join conditions with `and`/`or`")
                return node
            _fail(item, f"unexpected `{word}`")  # pragma: no cover - the grammar prevents it
        self.pos += 1
        return item

    def expression(self, min_prec: int):
        left = self.operand(min_prec)
        while True:
            op, width = self.peek_op()
            if op is None:
                return left
            prec = COMPARE if op in COMPARISONS else BINARY[op]
            if prec < min_prec:
                return left
            op_token = self.items[self.pos]
            self.pos += width
            if prec == COMPARE:
                right = self.expression(COMPARE + 1)
                left = self._compare(op, op_token, left, right)
                nxt, _ = self.peek_op()
                if nxt in COMPARISONS:
                    _fail(self.items[self.pos], "comparisons do not chain",
                          "join them with `and`: `a < b and b < c`")
            else:
                right = self.expression(prec + 1)
                left = A.Binary(op, left, right, _span(left, right))

    @staticmethod
    def _compare(op: str, op_token, left, right):
        if op in ("in", "not in") and not isinstance(right, A.ListExpr):
            _fail(op_token, f"`{op}` takes a list", 'write the values in brackets: `in ["a", "b"]`')
        return A.Compare(op, left, right, _span(left, right))


def _negate(minus: Token, inner):
    span = _span(minus, inner)
    if isinstance(inner, A.Number):
        return A.Number(-inner.value, span)
    if isinstance(inner, A.Percent):
        return A.Percent(-inner.value, span)
    if isinstance(inner, A.Duration):
        return A.Duration(-inner.seconds, span)
    return A.Unary("-", inner, span)


def build(items: list):
    """The tree of a flat expression sequence."""
    reader = _Reader(items)
    return reader.expression(OR)
