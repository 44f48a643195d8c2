"""A single-regex lexer for the LALR parser, with keywords resolved by parser state.

Lark's contextual lexer tries a regex per parser state and then a keyword check per
word; this one matches every token with one compiled pattern and asks the parser
state whether a word is a keyword there, which is what makes keywords reserved only
where the grammar expects them. Same tokens, about twice as fast.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any, Callable, Iterator

from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, LexerState, Token

from dsl.limits import MAX_NESTING

# Named terminals in match order; must agree with grammar.lark.
_PATTERNS = (
    # Most frequent first (alternatives are tried in order); among overlapping ones the
    # longer form comes first: a triple quote before a plain string, a time range before
    # a duration before a percentage before a number.
    ("WORD", r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*(?:\.\*)?"),
    ("PUNCT", r"[{}()\[\],.:+\-*/]"),
    ("LONG_STRING", r'"""(?:[^"\\]|\\.|"(?!""))*"""'),
    ("OPEN_LONG", r'"""'),  # a triple quote that never closes: an error at the opening
    ("STRING", r'"(?:[^"\\\n]|\\.)*"'),
    ("COMP", r"==|!=|<=|>=|<|>"),
    ("TIME_RANGE", r"\d{1,2}:\d{2}[ \t]*-[ \t]*\d{1,2}:\d{2}"),
    ("DURATION", r"\d+(?:\.\d+)?(?:ms|s|m|h|d)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))*(?![A-Za-z0-9_])"),
    ("PERCENT", r"\d+(?:\.\d+)?%"),
    ("NUMBER", r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z0-9_.])"),
    ("COMMENT", r"#[^\n]*"),
)
_MASTER = re.compile(
    r"[ \t\r\n\f]*(?:" + "|".join(f"(?P<{name}>{rx})" for name, rx in _PATTERNS) + r"|(?P<END>\Z))", re.S)
_SPACE = re.compile(r"[ \t\r\n\f]*")


class Tok(tuple):
    """A token: a tuple (cheap to build) that reads like Lark's `Token`.

    Fields: type, value, line, column, end_line, end_column, start_pos, end_pos;
    `str(tok)` is its text. Compare `tok.value`, not the token, with a string."""

    __slots__ = ()
    type = property(itemgetter(0))
    value = property(itemgetter(1))
    line = property(itemgetter(2))
    column = property(itemgetter(3))
    end_line = property(itemgetter(4))
    end_column = property(itemgetter(5))
    start_pos = property(itemgetter(6))
    end_pos = property(itemgetter(7))

    def __str__(self) -> str:
        return self[1]

    def __repr__(self) -> str:
        return f"Tok({self[0]!r}, {self[1]!r})"


def make_token(kind: str, value: str, line: int, column: int, end_line: int, end_column: int,
               start_pos: int, end_pos: int) -> Tok:
    return tuple.__new__(Tok, (kind, value, line, column, end_line, end_column, start_pos, end_pos))


class TooDeep(Exception):
    """More brackets open at once than `MAX_NESTING`: raised at the one too many.

    Checked while scanning, before any tree exists, so nothing downstream ever sees
    such nesting (JSON payloads included)."""

    def __init__(self, pos: int, line: int, column: int) -> None:
        super().__init__(f"nesting deeper than {MAX_NESTING} at {line}:{column}")
        self.pos, self.line, self.column = pos, line, column


_OPENERS, _CLOSERS = frozenset("([{"), frozenset(")]}")


class TocsinLexer(Lexer):
    """Lark custom lexer (future interface: gets the parser state).

    Holds only what the grammar fixes (keyword and punctuation names): one instance
    serves any number of parses, from any thread."""

    __future_interface__ = 2

    def __init__(self, lexer_conf) -> None:
        self.keywords: dict[str, str] = {}
        self.punct: dict[str, str] = {}
        for term in lexer_conf.terminals:
            if term.pattern.type != "str":
                continue
            value, name = "".join((term.pattern.value,)), "".join((term.name,))  # plain str
            if value[:1].isalpha():
                self.keywords[value] = name
            else:
                self.punct[value] = name
        self.lark_comment_callback = (lexer_conf.callbacks or {}).get("COMMENT")
        self.terminals_by_name = lexer_conf.terminals_by_name

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        """Lark's interface: the parser state tells which keywords apply."""
        slice_ = lexer_state.text
        states = parser_state.parse_conf.states
        return self.scan(slice_.text, lambda: states[parser_state.position], slice_.start, slice_.end,
                         on_comment=self.lark_comment_callback)

    def scan(self, text: str, accepts: Callable[[], Any], pos: int = 0, end: int | None = None, *,
             line: int | None = None, line_start: int | None = None,
             on_comment: Callable[[Tok], Any] | None = None) -> Iterator[Tok]:
        """Tokens of `text[pos:end]`; `accepts()` gives the terminals the parser takes now.

        `line` and `line_start` (the offset where `pos`'s line begins) spare a count
        of the text before `pos` when the caller knows them; comments go to
        `on_comment`. Raises `TooDeep` past `MAX_NESTING` open brackets."""
        end = len(text) if end is None else end
        if line is None or line_start is None:
            line, line_start = 1 + text.count("\n", 0, pos), text.rfind("\n", 0, pos) + 1
        keywords, punct = self.keywords, self.punct
        master = _MASTER.match
        new = tuple.__new__
        depth = 0
        while True:
            m = master(text, pos, end)
            if m is None:
                skip = _SPACE.match(text, pos, end).end()
                newlines = text.count("\n", pos, skip)
                if newlines:
                    line, line_start = line + newlines, text.rfind("\n", pos, skip) + 1
                pos = skip
                raise UnexpectedCharacters(text, pos, line, pos - line_start + 1, allowed=set(accepts()),
                                           terminals_by_name=self.terminals_by_name)
            kind = m.lastgroup
            start = m.start(kind)
            if start != pos:
                newlines = text.count("\n", pos, start)
                if newlines:
                    line += newlines
                    line_start = text.rfind("\n", pos, start) + 1
                pos = start
            if kind == "END":
                return
            value, stop = m.group(kind), m.end()
            if kind == "OPEN_LONG" or (kind == "PUNCT" and value not in punct):
                raise UnexpectedCharacters(text, pos, line, pos - line_start + 1, allowed=set(accepts()),
                                           terminals_by_name=self.terminals_by_name)
            column = pos - line_start + 1
            if kind == "WORD":
                if "." in value:
                    kind = "DOTTED"
                else:
                    name = keywords.get(value)
                    kind = name if name is not None and name in accepts() else "IDENT"
            elif kind == "PUNCT":
                kind = punct[value]
                if value in _OPENERS:
                    depth += 1
                    if depth > MAX_NESTING:
                        raise TooDeep(pos, line, column)
                elif value in _CLOSERS:
                    depth -= 1
            elif kind == "LONG_STRING":
                kind = "STRING"
                newlines = value.count("\n")
                if newlines:
                    end_line = line + newlines
                    new_start = text.rfind("\n", pos, stop) + 1
                    tok = new(Tok, (kind, value, line, column, end_line, stop - new_start + 1, pos, stop))
                    line, line_start, pos = end_line, new_start, stop
                    yield tok
                    continue
            tok = new(Tok, (kind, value, line, column, line, column + (stop - pos), pos, stop))
            pos = stop
            if kind == "COMMENT":
                if on_comment is not None:
                    on_comment(tok)
                continue
            yield tok
