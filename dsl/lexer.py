"""A single-regex lexer for the LALR parser, with keywords resolved by parser state.

Lark's contextual lexer tries a regex per parser state and then a keyword check per
word; this one matches every token with one compiled pattern and asks the parser
state whether a word is a keyword there, which is what makes keywords reserved only
where the grammar expects them. Same tokens, about twice as fast.

The pattern is built from grammar.lark's terminals (`master_pattern`), so the grammar
is the one definition of every token; this module adds only the two checks no regex
states: brackets nested deeper than `MAX_NESTING` and a triple quote that never closes.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any, Callable, Iterator

from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, LexerState, Token

from dsl.limits import MAX_NESTING


# Names come first: they are the most frequent tokens, and no other terminal can match
# where a name starts (tests/dsl/test_vocabulary.py checks both orders read alike).
_FIRST = ("DOTTED", "IDENT")


def _order(term) -> tuple:
    """Lark's own order (priority, then the longest), the names first."""
    first = _FIRST.index(term.name) if term.name in _FIRST else len(_FIRST)
    return first, -term.priority, -term.pattern.max_width, -len(term.pattern.value), term.name


def master_pattern(terminals, ignore) -> tuple[re.Pattern, re.Pattern, dict[str, str], dict[str, str]]:
    """The grammar's terminals as one regex, with what the lexer needs to name a match.

    Returns (master, space, keywords, punct): `master` matches optional whitespace (the
    grammar's ignored `WS`) and then one terminal, each a named group in the order
    Lark's own lexer tries them (priority, then longest), or the end of the text;
    fixed strings of the grammar form one `PUNCT` group (`punct`: text -> terminal
    name) unless they are words (`keywords`: `when` -> `WHEN`), which are matched as
    `IDENT` and named by the parser state."""
    keywords: dict[str, str] = {}
    punct: dict[str, str] = {}
    regexes = []
    for term in sorted(terminals, key=_order):
        name = "".join((term.name,))  # a plain str, not Lark's subclass
        if term.pattern.type == "str":
            value = "".join((term.pattern.value,))
            (keywords if value[:1].isalpha() else punct)[value] = name
        elif name not in ignore or name == "COMMENT":
            regexes.append((name, term.pattern.to_regexp()))
    space = "|".join(f"(?:{t.pattern.to_regexp()})" for t in terminals if t.name in ignore and t.name != "COMMENT")
    space_rx = f"(?:{space})*" if space else ""
    punct_rx = "|".join(re.escape(p) for p in sorted(punct, key=len, reverse=True))
    groups = [f"(?P<{name}>{rx})" for name, rx in regexes] + [f"(?P<PUNCT>{punct_rx})"]
    master = re.compile(space_rx + "(?:" + "|".join(groups) + r"|(?P<END>\Z))")
    return master, re.compile(space_rx), keywords, punct


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


OPENERS, CLOSERS = frozenset("([{"), frozenset(")]}")


class TocsinLexer(Lexer):
    """Lark custom lexer (future interface: gets the parser state).

    Holds only what the grammar fixes (keyword and punctuation names): one instance
    serves any number of parses, from any thread."""

    __future_interface__ = 2

    def __init__(self, lexer_conf) -> None:
        self.master, self.space, self.keywords, self.punct = master_pattern(lexer_conf.terminals, lexer_conf.ignore)
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
        master = self.master.match
        new = tuple.__new__
        depth = 0
        while True:
            m = master(text, pos, end)
            if m is None:
                skip = self.space.match(text, pos, end).end()
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
            column = pos - line_start + 1
            if kind == "IDENT":
                name = keywords.get(value)
                if name is not None and name in accepts():
                    kind = name
            elif kind == "PUNCT":
                kind = punct[value]
                if value in OPENERS:
                    depth += 1
                    if depth > MAX_NESTING:
                        raise TooDeep(pos, line, column)
                elif value in CLOSERS:
                    depth -= 1
            elif kind == "STRING":
                if value == '""' and text.startswith('"', stop, end):
                    # a triple quote that never closes: an error at the opening
                    raise UnexpectedCharacters(text, pos, line, column, allowed=set(accepts()),
                                               terminals_by_name=self.terminals_by_name)
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
