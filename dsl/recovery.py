"""Recovery from syntax errors: a file cut into declarations, each parsed alone.

A declaration starts at `when`, `monitor "…"` or `KIND "NAME" {` outside brackets, or
at one of those that begins a line even inside brackets, so an unclosed bracket hides
nothing after it. Each piece is parsed on its own, so every broken declaration gets
its own diagnostic; from a piece that fails, the declarations the parser had already
completed are kept (a stray word after a monitor does not cost that monitor).
Everything here is linear in the text: positions come from one index of line starts.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache
from typing import TYPE_CHECKING

from lark.exceptions import UnexpectedInput, UnexpectedToken

from dsl import ast as A
from dsl import grammar
from dsl.diagnostics import Diagnostic
from dsl.lalr import Splice
from dsl.lexer import Tok as Token
from dsl.lexer import CLOSERS, OPENERS, TooDeep
from dsl.syntax_errors import complete_declarations, stray_word, syntax_diagnostic, too_deep
from dsl.transform import DeclarationError

if TYPE_CHECKING:
    from dsl.parser import FileParse


class Lines:
    """Offsets -> (line, offset where that line starts), in log time."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> tuple[int, int]:
        i = bisect_right(self.starts, offset) - 1
        return i + 1, self.starts[i]

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1


@lru_cache(maxsize=1)
def _tokenizer() -> re.Pattern:
    """A rough tokenizer that never fails, from the grammar's terminals: strings (an
    unclosed one ends at its line's end), comments, names, brackets, any other character."""
    t = grammar.terminal_patterns()
    brackets = "".join(OPENERS), "".join(CLOSERS)
    return re.compile(
        f'(?P<str>{t["STRING"]}|"[^\n]*)|(?P<comment>{t["COMMENT"]})|(?P<word>{t["IDENT"]})'
        f"|(?P<open>[{re.escape(brackets[0])}])|(?P<close>[{re.escape(brackets[1])}])|(?P<other>\\S)")


def split_declarations(text: str, start: int = 0) -> list[int]:
    """Offsets where top-level declarations start from `start` on (a best effort on
    broken text); the first is `start`."""
    tokens = [(m.lastgroup, m.group(), m.start(), m.end()) for m in _tokenizer().finditer(text, start)
              if m.lastgroup != "comment"]
    starts: list[int] = []
    depth = 0
    for i, (kind, value, pos, _) in enumerate(tokens):
        if kind == "open":
            depth += 1
            continue
        if kind == "close":
            depth = max(0, depth - 1)
            continue
        if kind != "word":
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        nxt2 = tokens[i + 2] if i + 2 < len(tokens) else None
        prev = tokens[i - 1] if i else None
        prev2 = tokens[i - 2] if i > 1 else None
        if value == "when":
            begins = not (prev and prev2 and prev[0] == "str" and prev2[1] == "monitor")
        elif value == "monitor":
            begins = bool(nxt and nxt[0] == "str")
        else:
            begins = bool(nxt and nxt2 and nxt[0] == "str" and nxt2[1] == "{")
        if begins and depth and (prev is None or "\n" in text[prev[3]:pos]):
            depth = 0  # begins a line: a bracket left open before it is closed here
        if begins and not depth:
            starts.append(pos)
    if not starts or starts[0] != start:
        starts.insert(0, start)
    return starts


def recover(text: str, state: FileParse, failure: Exception) -> tuple[list, list[Diagnostic], list[A.Comment]]:
    """After the parse of all of `text` with `state` failed with `failure`: the
    declarations, diagnostics and comments of the file.

    What the failed parse completed is kept as it is; the text from the declaration
    it failed in on is parsed declaration by declaration, so an error costs one more
    parse of the rest of the file, not of all of it. When the failure already says
    all there is to say about its declaration (a declaration without meaning, a stray
    word), that one is not parsed again."""
    lines = Lines(text)
    values = getattr(failure, "values", None) or []
    resume = _resume_offset(values, failure, lines)
    decls = complete_declarations(values) if resume else []
    before = [lines.offset(d.span.line, d.span.column) < resume for d in state.ast.diagnostics]
    diagnostics = [d for d, b in zip(state.ast.diagnostics, before) if b]
    comments = [c for c in state.comments if lines.offset(c.span.line, c.span.column) < resume]
    starts = split_declarations(text, resume)
    own = failure.diagnostic if isinstance(failure, DeclarationError) else (
        stray_word(failure, state.file) if isinstance(failure, UnexpectedToken) else None)
    if own is not None:
        diagnostics += [d for d, b in zip(state.ast.diagnostics, before) if not b] + [own]
        starts = starts[1:]
    rest, more = parse_by_declaration(text, state, lines, starts)
    return decls + rest, diagnostics + more, comments + _comments(text, state.file, lines, resume)


def _resume_offset(values: list, failure: Exception, lines: Lines) -> int:
    """Where the declaration the parse failed in starts (0 when unknown)."""
    for value in values:
        if isinstance(value, (A.Monitor, A.Block)) or (isinstance(value, Splice) and len(
                complete_declarations([value])) == len(value)):
            continue
        while isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, Token):
            return value.start_pos
        span = getattr(value, "span", None)
        return lines.offset(span.line, span.column) if span is not None else 0
    if isinstance(failure, UnexpectedToken):
        return failure.token.start_pos
    return getattr(failure, "pos_in_stream", None) or getattr(failure, "pos", 0)


def parse_by_declaration(text: str, state: FileParse, lines: Lines,
                         starts: list[int]) -> tuple[list, list[Diagnostic]]:
    """Each declaration of `text` (from each of `starts` to the next) parsed alone."""
    decls: list = []
    diagnostics: list[Diagnostic] = []
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        if _only_comments(text, begin, end):
            continue
        line, line_start = lines.at(begin)
        state.ast.diagnostics = []
        try:
            decls.extend(state.run(text, begin, end, line, line_start))
            diagnostics.extend(state.ast.diagnostics)
        except (DeclarationError, TooDeep, UnexpectedInput) as e:
            decls.extend(_kept(e, state))
            diagnostics.extend(state.ast.diagnostics)
            if isinstance(e, DeclarationError):
                diagnostics.append(e.diagnostic)
            elif isinstance(e, TooDeep):
                diagnostics.append(too_deep(e, state.file))
            else:
                diagnostics.append(syntax_diagnostic(e, text, state.file, at_file_end=end == len(text)))
    return decls, diagnostics


def _kept(e: Exception, state: FileParse) -> list:
    """The complete declarations of a piece that failed with `e`.

    Those the parser had reduced before the failure, and also the one it was reading
    if that could end where the failure is and the failure starts a later line: a
    declaration written to the end of its line, then something unreadable. (On the
    same line the failure is more likely inside what was meant: `where step = "x"`
    must not become `where step`.)"""
    values, states = getattr(e, "values", None), getattr(e, "states", None)
    if not values or states is None or isinstance(e, DeclarationError):
        return complete_declarations(values or [])
    failed_at = e.token.line if isinstance(e, UnexpectedToken) else getattr(e, "line", 0)
    if failed_at > _end_line(values[-1]):
        finished = state.table.finish(states, values, state.callbacks)
        if finished is not None:
            return list(finished)
    return complete_declarations(values)


def _end_line(value) -> int:
    """The line where a value of the parse stack (token, node or `Splice`) ends."""
    while isinstance(value, list) and value:
        value = value[-1]
    if isinstance(value, Token):
        return value.end_line
    span = getattr(value, "span", None)
    return span.end_line if span is not None else 0


_BLANK_OR_COMMENT = re.compile(r"(?:\s+|#[^\n]*)*")


def _only_comments(text: str, begin: int, end: int) -> bool:
    return _BLANK_OR_COMMENT.match(text, begin, end).end() == end


def _comments(text: str, file: str, lines: Lines, start: int) -> list[A.Comment]:
    out = []
    for m in _tokenizer().finditer(text, start):
        if m.lastgroup == "comment":
            line, line_start = lines.at(m.start())
            col = m.start() - line_start + 1
            out.append(A.Comment(m.group(), A.Span(file, line, col, line, col + len(m.group()))))
    return out
