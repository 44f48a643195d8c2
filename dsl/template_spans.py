"""Where a template's paths sit: in its text, and in the rule file.

    locate(env.lexer, "{{ monitor.nmae }}", [("monitor", ("nmae",))])  # [(3, (10, 15))]
    text_span(string, 3, 15)   # the Span of `monitor.nmae` inside the string literal

Offsets come from Jinja's own lexer (the token values followed through the text), so
`event["instance"] . name` is found as well as `event.instance.name`; each path is
matched to the first occurrence not yet taken. A rule file holds a string literal with
its escapes, and `A.String` only the decoded value: where an escape before the path
would shift the columns, or the text could not be followed, the span is the whole
string's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from jinja2 import TemplateError
from jinja2.lexer import Lexer

from dsl import ast as A

_SKIPPED_TOKENS = frozenset({"whitespace", "data", "comment", "linecomment"})


def locate(lexer: Lexer, text: str,
           paths: list[tuple[str, tuple[str, ...]]]) -> list[tuple[int | None, tuple[int, ...]]]:
    """For each (root, steps), in the order the template reads them: the offset of the
    root and the offset after the root and after each step; (None, ()) if not found."""
    tokens = _tokens(lexer, text)
    used: set[int] = set()
    out: list[tuple[int | None, tuple[int, ...]]] = []
    for root, steps in paths:
        where = _find(tokens, root, steps, used) if tokens is not None else None
        out.append(where if where is not None else (None, ()))
    return out


def _tokens(lexer: Lexer, text: str) -> list[tuple[str, str, int, int]] | None:
    """(kind, value, start, end) of every significant token, or None if the lexer's
    values cannot be followed through the text (newlines it normalised)."""
    out = []
    pos = 0
    try:
        for _, kind, value in lexer.tokeniter(text, None):
            at = text.find(value, pos)
            if at < 0:
                return None
            pos = at + len(value)
            if kind not in _SKIPPED_TOKENS:
                out.append((kind, value, at, pos))
    except TemplateError:
        return None
    return out


def _find(tokens: list[tuple[str, str, int, int]], root: str, steps: tuple[str, ...],
          used: set[int]) -> tuple[int, tuple[int, ...]] | None:
    """The first unused occurrence of `root` followed by `.step` or `["step"]` for each step."""
    for i, (kind, value, start, end) in enumerate(tokens):
        if kind != "name" or value != root or i in used:
            continue
        if i and tokens[i - 1][0] == "operator" and tokens[i - 1][1] in (".", "|"):
            continue
        ends = [end]
        for step_end in _steps(tokens, i + 1, steps):
            ends.append(step_end)
        if len(ends) == len(steps) + 1:
            used.add(i)
            return start, tuple(ends)
    return None


def _steps(tokens: list[tuple[str, str, int, int]], j: int, steps: tuple[str, ...]) -> Iterator[int]:
    """The end offset of each step that follows at token `j`, as long as they match."""
    for step in steps:
        ahead = tokens[j:j + 3]
        if len(ahead) >= 2 and ahead[0][1] == "." and ahead[1][0] == "name" and ahead[1][1] == step:
            yield ahead[1][3]
            j += 2
        elif (len(ahead) == 3 and ahead[0][1] == "[" and ahead[1][0] == "string"
              and _literal(ahead[1][1]) == step and ahead[2][1] == "]"):
            yield ahead[2][3]
            j += 3
        else:
            return


def _literal(token: str) -> object:
    try:
        return ast.literal_eval(token)
    except (ValueError, SyntaxError):
        return None


def text_span(s: A.String, start: int | None, end: int | None) -> A.Span:
    """The span of `s.value[start:end]` in the rule file, or the whole string's span when
    escapes make the offsets unknowable (or the text was not located)."""
    span, value = s.span, s.value
    if start is None or end is None:
        return span
    if not s.triple:
        if span.line != span.end_line or span.end_column - span.column - 2 != len(value):
            return span  # an escape: decoded offsets differ from the file's
        return A.Span(span.file, span.line, span.column + 1 + start, span.line, span.column + 1 + end)
    lines = value.split("\n")
    single = len(lines) == 1
    closing = span.column + 3 + len(value) + 3 if single else len(lines[-1]) + 3 + 1
    if span.end_line - span.line != len(lines) - 1 or span.end_column != closing:
        return span
    if not single and any(c in value[:end] for c in '\\"\t'):
        return span  # may hide an escape on an earlier line

    def at(offset: int) -> tuple[int, int]:
        row = value.count("\n", 0, offset)
        column = offset - (value.rfind("\n", 0, offset) + 1)
        return span.line + row, (span.column + 3 + column if row == 0 else column + 1)

    (line, column), (end_line, end_column) = at(start), at(end)
    return A.Span(span.file, line, column, end_line, end_column)
