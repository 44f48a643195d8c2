"""Text -> `RuleFile` plus syntax diagnostics, recovering at the next declaration.

The fast path parses the whole file in one LALR pass with the AST built inline. When
that fails, the file is cut into declarations (a `when`, a `monitor "…"` or a
`KIND "NAME" {` at nesting depth 0, or at the start of a line) and each is parsed
alone, so every broken declaration gets its own diagnostic and the good ones still
come through, those the parser had completed before a failure included.

Any text is accepted: over-long files (E006), lone surrogates (E001), numbers and
durations out of range (E004, E005) and deep nesting (E003) are diagnostics like any
syntax error (limits in `dsl.limits`). Time is linear in the text, and all state
lives in one call, so parses may run in several threads at once.
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager

from lark.exceptions import UnexpectedInput

from dsl import ast as A
from dsl import grammar
from dsl.diagnostics import Diagnostic, error
from dsl.lexer import Tok as Token
from dsl.lexer import TooDeep
from dsl.limits import MAX_TEXT_CHARS
from dsl.recovery import Lines, recover
from dsl.transform import DeclarationError, ToAst


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building a tree.

    Parsing allocates many small objects and no reference cycles, yet each burst of
    allocations triggers collections that walk everything alive: a third of parse time.
    Reference counting still frees everything as usual; collection resumes after.
    Threads may overlap here: only the one that found the collector enabled turns it
    back on, so it ends enabled whatever the order."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class FileParse:
    """The state of one parse of one file: its transformer (file name, recoverable
    diagnostics), that transformer's callbacks and the comments seen."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.table, self.lexer = grammar.front()
        self.ast = ToAst(file)
        self.callbacks = self.table.callbacks(self.ast)
        self.comments: list[A.Comment] = []

    def keep_comment(self, tok: Token) -> None:
        self.comments.append(A.Comment(tok.value, A.Span(self.file, tok.line, tok.column,
                                                         tok.end_line, tok.end_column)))

    def run(self, text: str, pos: int = 0, end: int | None = None, line: int = 1,
            line_start: int = 0) -> tuple:
        """The declarations of `text[pos:end]` (`line`, `line_start`: where `pos` is)."""
        accepts = self.table.actions
        scan, keep = self.lexer.scan, self.keep_comment

        def tokens(source: str, stack: list):
            return scan(source, lambda: accepts[stack[-1]], pos, end, line=line, line_start=line_start,
                        on_comment=keep)

        return self.table.parse(text, tokens, self.callbacks)


def parse(text: str, file: str = "<string>") -> tuple[A.RuleFile, list[Diagnostic]]:
    """Parse one rule file. Returns what parsed and the syntax diagnostics (maybe empty).

    Total: any text gives a `RuleFile` and diagnostics, never an exception, in time
    linear in its length (the limits are in `dsl.limits`). Safe to call from several
    threads at once: all state lives in this call."""
    with gc_paused():
        return _parse(text, file)


def _parse(text: str, file: str) -> tuple[A.RuleFile, list[Diagnostic]]:
    if len(text) > MAX_TEXT_CHARS:
        return A.RuleFile(file, (), (), A.Span(file, 1, 1, 1, 1)), [error(
            A.Span(file, 1, 1, 1, 1), "E006", f"the file is {len(text):,} characters long; at most "
            f"{MAX_TEXT_CHARS:,} are allowed", "split it into several files")]
    diagnostics, text = _surrogates(text, file)
    state = FileParse(file)
    try:
        decls = state.run(text)
        diagnostics += state.ast.diagnostics
        comments = state.comments
    except (UnexpectedInput, DeclarationError, TooDeep) as failure:
        decls, syntax, comments = recover(text, state, failure)
        diagnostics += _not_at(syntax, diagnostics)
    lines = text.count("\n") + 1
    last_col = len(text) - (text.rfind("\n") + 1) + 1
    return A.RuleFile(file, tuple(decls), tuple(comments), A.Span(file, 1, 1, lines, last_col)), diagnostics


# ----------------------------------------------------------- unencodable text

_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogates(text: str, file: str) -> tuple[list[Diagnostic], str]:
    """An E001 for each lone surrogate: reported where it stands, then read as U+FFFD
    so the rest of the file is still checked. A JSON body's `"\\ud800"` decodes to one;
    no UTF-8 file, database or HTTP answer can carry it, so it must stop here."""
    found = [m.start() for m in _SURROGATE.finditer(text)]
    if not found:
        return [], text
    lines = Lines(text)
    out = []
    for offset in found:
        line, line_start = lines.at(offset)
        column = offset - line_start + 1
        out.append(error(A.Span(file, line, column, line, column + 1), "E001",
                         f"a lone surrogate (U+{ord(text[offset]):04X}) is not a character",
                         "rule text must be valid Unicode; remove it or write the character it was part of"))
    return out, _SURROGATE.sub("\ufffd", text)


def _not_at(syntax: list[Diagnostic], reported: list[Diagnostic]) -> list[Diagnostic]:
    """`syntax` without those at the start of an already reported problem (the U+FFFD
    standing in for a lone surrogate is no character the grammar expects either)."""
    if not reported:
        return syntax
    taken = {(d.span.line, d.span.column) for d in reported}
    return [d for d in syntax if (d.span.line, d.span.column) not in taken]
