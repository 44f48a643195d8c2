"""Operator precedence for expressions: a flat operand/operator sequence -> a tree.

The grammar hands an expression over as `[operand, op, operand, …]` with prefix
operators (`not`, `-`, `exists`) in front of operands; this module applies the
language's precedence (the table is `dsl.catalog`'s), loosest first:

    or  <  and  <  not (prefix)  <  == != < <= > >= in, not in, contains,
    startswith, endswith, matches (non-associative)  <  + -  <  * /  <  - (prefix)

Arithmetic operators associate to the left. A chain of `and` (or of `or`), brackets
around a part of it included, becomes one balanced tree (see `balanced`). A comparison
cannot take another comparison as an operand without parentheses, and `not`/`exists`
cannot stand where an arithmetic operand is expected; both are syntax errors with a
clear message. Building is linear in the sequence and recurses only per precedence
level and prefix operator (at most `MAX_NESTING` of those in a row).
"""

from __future__ import annotations

from dsl.lexer import Tok as Token

from dsl import ast as A
from dsl.diagnostics import error
from dsl.catalog import BINARY_OPERATORS as BINARY
from dsl.catalog import CHAIN_OPERATORS as CHAINS
from dsl.catalog import COMPARE, COMPARISON_OPERATORS, NEG, NOT, OR
from dsl.limits import MAX_NESTING

COMPARISONS = frozenset(COMPARISON_OPERATORS)


class PrecedenceError(Exception):
    """Raised with the diagnostic of an operator used where it cannot stand."""

    def __init__(self, diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _is_op(item) -> bool:
    return isinstance(item, Token) and item.type not in ("IDENT", "DOTTED")


def _span(start, end_node) -> A.Span:
    s = start.span
    e = end_node.span
    return A.Span(s.file, s.line, s.column, e.end_line, e.end_column)


class _Reader:
    """Reads one flat operand/operator sequence into a tree (precedence climbing)."""

    def __init__(self, items: list, file: str) -> None:
        self.items, self.pos, self.file = items, 0, file
        self.prefixes = 0  # prefix operators being read, one inside the other

    def token_span(self, tok: Token) -> A.Span:
        return A.Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    def start_span(self, item) -> A.Span:
        return self.token_span(item) if isinstance(item, Token) else item.span

    def span(self, start, end_node) -> A.Span:
        s, e = self.start_span(start), end_node.span
        return A.Span(s.file, s.line, s.column, e.end_line, e.end_column)

    def fail(self, item, message: str, hint: str | None = None, code: str = "E001"):
        raise PrecedenceError(error(self.start_span(item), code, message, hint))

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
            if word in ("not", "-"):
                self.prefixes += 1
                if self.prefixes > MAX_NESTING:
                    self.fail(item, f"more than {MAX_NESTING} `not` or `-` in a row",
                              "each one nests the condition a level deeper", code="E003")
                try:
                    return self._prefixed(item, word, min_prec)
                finally:
                    self.prefixes -= 1
            if word == "exists":
                if min_prec > COMPARE:
                    self.fail(item, "`exists` cannot stand here", "wrap it in parentheses: `(exists …)`")
                path = self.items[self.pos]
                self.pos += 1
                node = A.Exists(path, self.span(item, path))
                op, _ = self.peek_op()
                if op in COMPARISONS or BINARY.get(op or "", 0) > COMPARE:
                    self.fail(self.items[self.pos], f"`exists …` is already a condition; `{op}` cannot follow it",
                              "wrap it in parentheses or join conditions with `and`/`or`")
                return node
            self.fail(item, f"unexpected `{word}`")  # pragma: no cover - the grammar prevents it
        self.pos += 1
        return item

    def _prefixed(self, item: Token, word: str, min_prec: int):
        if word == "not":
            if min_prec > NOT:
                self.fail(item, "`not` cannot stand here", "wrap it in parentheses: `(not …)`")
            inner = self.expression(NOT)
            return A.Unary("not", inner, self.span(item, inner))
        inner = self.expression(NEG)
        return _negate(inner, self.span(item, inner))

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
                    self.fail(self.items[self.pos], "comparisons do not chain",
                              "join them with `and`: `a < b and b < c`")
            elif op in CHAINS:
                left = self._chain(op, prec, left)
            else:
                right = self.expression(prec + 1)
                left = A.Binary(op, left, right, _span(left, right))

    def _chain(self, op: str, prec: int, first):
        """`a and b and …` (the first `and` just read): every operand, as a balanced tree."""
        operands = chain_operands(op, first)
        operands += chain_operands(op, self.expression(prec + 1))
        while self.pos < len(self.items) and _is_op(self.items[self.pos]) and self.items[self.pos].value == op:
            self.pos += 1
            operands += chain_operands(op, self.expression(prec + 1))
        return balanced(op, operands)

    def _compare(self, op: str, op_token, left, right):
        if op in ("in", "not in") and not isinstance(right, A.ListExpr):
            self.fail(op_token, f"`{op}` takes a list", 'write the values in brackets: `in ["a", "b"]`')
        return A.Compare(op, left, right, _span(left, right))


def _negate(inner, span: A.Span):
    if isinstance(inner, A.Number):
        return A.Number(-inner.value, span)
    if isinstance(inner, A.Percent):
        return A.Percent(-inner.value, span)
    if isinstance(inner, A.Duration):
        return A.Duration(-inner.seconds, span)
    return A.Unary("-", inner, span)


def chain_operands(op: str, node) -> list:
    """The operands of an `op` chain (a bracketed one too: `a and (b and c)`), in order."""
    if type(node) is not A.Binary or node.op != op:
        return [node]
    out: list = []
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is A.Binary and n.op == op:
            stack.append(n.right)
            stack.append(n.left)
        else:
            out.append(n)
    return out


def balanced(op: str, operands: list):
    """The canonical tree of an `and` or `or` chain: halves, the left one larger.

    Both operators are associative (and evaluated left to right either way), so the
    shape carries no meaning; a balanced one nests log2(n) deep, so no later stage
    recurses a thousand levels for a long chain. Up to three operands it is the same
    as left association."""
    if len(operands) == 1:
        return operands[0]
    return _halves(op, operands, 0, len(operands))


def _halves(op: str, operands: list, lo: int, hi: int):
    if hi - lo == 1:
        return operands[lo]
    mid = (lo + hi + 1) // 2
    left, right = _halves(op, operands, lo, mid), _halves(op, operands, mid, hi)
    return A.Binary(op, left, right, _span(left, right))


def canonical(e):
    """`e` as the parser would build it from its formatted text: `and`/`or` chains
    balanced (for trees built by hand, e.g. by tests' strategies)."""
    t = type(e)
    if t is A.Binary:
        if e.op in CHAINS:
            return balanced(e.op, [canonical(x) for x in chain_operands(e.op, e)])
        return A.Binary(e.op, canonical(e.left), canonical(e.right), e.span)
    if t is A.Compare:
        return A.Compare(e.op, canonical(e.left), canonical(e.right), e.span)
    if t is A.Unary:
        return A.Unary(e.op, canonical(e.operand), e.span)
    if t is A.ListExpr:
        return A.ListExpr(tuple(canonical(i) for i in e.items), e.span)
    if t is A.Aggregate and e.where is not None:
        return A.Aggregate(e.func, e.pattern, e.field, canonical(e.where), e.func_span, e.span)
    return e


def too_deep(expr, limit: int = MAX_NESTING):
    """The first node of `expr` deeper than `limit` levels, or None (without recursion)."""
    stack = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        t = type(node)
        depth += 1
        if t is A.Binary or t is A.Compare:
            stack.append((node.left, depth))
            stack.append((node.right, depth))
        elif t is A.Unary:
            stack.append((node.operand, depth))
        elif t is A.ListExpr:
            stack.extend((item, depth) for item in node.items)
        elif t is A.Aggregate and node.where is not None:
            stack.append((node.where, depth))
    return None


def build(items: list, file: str):
    """The tree of a flat expression sequence from `file`."""
    return _Reader(items, file).expression(OR)
