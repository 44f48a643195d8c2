"""Lark's parse errors -> E001 (or E306, E003) diagnostics that say what was expected.

Messages name what the grammar wanted in the reader's words (`a duration like 5m`,
`` `when` ``), never internal rule names; a word close to a keyword the parser would
have taken gets a "did you mean" hint (`whn` -> `when`).
"""

from __future__ import annotations

import re
from difflib import get_close_matches

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from dsl import ast as A
from dsl import grammar
from dsl.diagnostics import Diagnostic, error
from dsl.lalr import Splice
from dsl.lexer import Tok as Token
from dsl.lexer import TooDeep
from dsl.limits import MAX_NESTING
from dsl.literals import shown

_FRIENDLY = {
    "IDENT": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "PERCENT": "a percentage",
    "DURATION": "a duration like `5m`",
    "TIME_RANGE": "a time range like `01:00-03:00`",
    "COMP": "a comparison (`==`, `>=`, …)",
    "DOTTED": "a dotted name",
    "$END": "end of file",
}
_BAD_DURATION = re.compile(r"\d+(?:\.\d+)?[A-Za-z_][A-Za-z0-9_]*")


def complete_declarations(values: list) -> list:
    """The complete declarations at the bottom of a failed parse's value stack."""
    out: list = []
    for v in values:
        if isinstance(v, (A.Monitor, A.Block)):
            out.append(v)
        elif isinstance(v, Splice) and all(isinstance(d, (A.Monitor, A.Block)) for d in v):
            out.extend(v)
        else:
            break
    return out


def too_deep(e: TooDeep, file: str) -> Diagnostic:
    return error(A.Span(file, e.line, e.column, e.line, e.column + 1), "E003",
                 f"brackets nest more than {MAX_NESTING} levels deep",
                 "flatten the structure; each `(`, `[` or `{` opens a level")


def syntax_diagnostic(e: UnexpectedInput, text: str, file: str, at_file_end: bool = True) -> Diagnostic:
    """The diagnostic of a parse of `text` (the whole file) that failed with `e`."""
    if isinstance(e, UnexpectedCharacters):
        return _unexpected_character(e, text, file)
    assert isinstance(e, UnexpectedToken), e  # the only other error our driver raises
    tok = e.token
    expected = _expected(e.expected)
    stray = stray_word(e, file)
    if stray is not None:
        return stray
    if tok.type == "$END":
        line, column = tok.line, tok.column
        what = "unexpected end of file" if at_file_end else "incomplete declaration"
        return error(A.Span(file, line, column, line, column), "E001", f"{what}; expected {expected}")
    value = str(tok)
    span = A.Span(file, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + len(value))
    near = _nearest_keyword(value, e.expected)
    return error(span, "E001", f"unexpected `{shown(value)}`; expected {expected}",
                 f"did you mean `{near}`?" if near else None)


def _unexpected_character(e: UnexpectedCharacters, text: str, file: str) -> Diagnostic:
    line, column, offset = e.line, e.column, e.pos_in_stream
    bad = _BAD_DURATION.match(text, offset)
    if bad:
        return error(A.Span(file, line, column, line, column + len(bad.group())), "E306",
                     f"invalid duration `{shown(bad.group())}`",
                     "durations are a number and a unit: ms, s, m, h or d (e.g. `10s`, `1h30m`)")
    char = text[offset] if offset < len(text) else ""
    span = A.Span(file, line, column, line, column + 1)
    if char == '"':
        return error(span, "E001", "unterminated string", 'close the string with `"`')
    expected = _expected(e.allowed) if e.allowed else ""
    return error(span, "E001", f"unexpected character `{char}`" + (f"; expected {expected}" if expected else ""))


def stray_word(e: UnexpectedToken, file: str) -> Diagnostic | None:
    """A word where a declaration or clause should start (`severity info info`, `whn …`).

    The grammar reads such a word as the kind of a following block and only fails at
    the next token; the word itself is the mistake, so point there, with the nearest
    keyword the parser would have taken in its place."""
    values, states = getattr(e, "values", None) or [], getattr(e, "states", None) or []
    if not (values and len(states) >= 2 and isinstance(values[-1], Token) and values[-1].type == "IDENT"):
        return None
    before = values[:-1]
    if not all(isinstance(v, (A.Monitor, A.Block, Splice)) for v in before) \
            or len(complete_declarations(before)) < len(before):
        return None
    word = values[-1]
    arrival = getattr(e, "arrival", None)  # before the word ended the declaration or clause
    near = _nearest_keyword(str(word), grammar.front()[0].expected(states[-2] if arrival is None else arrival))
    if not (near or before):  # a first word with no keyword near: a block kind, judged later
        return None
    span = A.Span(file, word.line, word.column, word.end_line, word.end_column)
    where = " after a complete declaration" if before else ""
    return error(span, "E001", f"unexpected `{shown(str(word))}`{where}",
                 f"did you mean `{near}`?" if near else clause_hint())


def clause_hint() -> str:
    return "a clause starts with a keyword: " + ", ".join(grammar.clause_words().values())


def _describe(name: str) -> str:
    if name in _FRIENDLY:
        return _FRIENDLY[name]
    text = grammar.literal_terminals().get(name)
    return f"`{text}`" if text is not None else name.lower()


def _expected(names) -> str:
    words = sorted({_describe(n) for n in names})
    if len(words) > 10:
        keywords = [w for w in words if w.startswith("`")]
        others = [w for w in words if not w.startswith("`")]
        words = others + keywords[: max(0, 10 - len(others))] + ["…"]
    return ", ".join(words)


def _nearest_keyword(word: str, terminals) -> str | None:
    """The keyword among `terminals` closest to `word`, if one is close."""
    keywords = grammar.keywords()
    match = get_close_matches(word, sorted(keywords[t] for t in terminals if t in keywords), n=1, cutoff=0.6)
    return match[0] if match else None
