"""A lean LALR(1) driver over the parse table Lark builds from grammar.lark.

Lark stays the parser generator (grammar, table, conflict checks, callbacks); this
loop only replaces its general-purpose `feed_token`, which pays for features we don't
use (interactive parsing, token callbacks, debug dumps). Each state's actions are
flattened once into tuples, so a step is one dict lookup.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from lark import Lark, Token
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_analysis import Shift

SHIFT = 0
REDUCE = 1


class Driver:
    """Runs the table of a `Lark(parser="lalr", transformer=…)` instance."""

    def __init__(self, lark: Lark) -> None:
        lalr = lark.parser.parser  # LALR_Parser
        table = lalr._parse_table
        callbacks = lalr.parser.callbacks
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        self.actions: dict[Any, dict[str, tuple]] = {}
        for state, acts in table.states.items():
            flat: dict[str, tuple] = {}
            for term, (action, arg) in acts.items():
                if action is Shift:
                    flat[term] = (SHIFT, arg)
                else:
                    flat[term] = (REDUCE, len(arg.expansion), callbacks[arg], arg.origin.name)
            self.actions[state] = flat
        self.terminals_by_name = {t.name: t for t in lark.terminals}

    def parse(self, text: str, tokens: Callable[[str, list], Iterator[Token]]):
        """`tokens(text, stack)` yields tokens; it may look at `stack[-1]` (the state)."""
        actions, end = self.actions, self.end
        stack: list = [self.start]
        values: list = []
        token = None
        for token in tokens(text, stack):
            t = token.type
            while True:
                act = actions[stack[-1]].get(t)
                if act is None:
                    raise self._unexpected(token, stack, values)
                if act[0] == SHIFT:
                    stack.append(act[1])
                    values.append(token)
                    break
                self._reduce(act, stack, values)
        if token is None:
            end_token = Token("$END", "", 0, 1, 1, 1, 1, 0)
        else:
            end_token = Token("$END", "", token.end_pos, token.end_line, token.end_column,
                              token.end_line, token.end_column, token.end_pos)
        while True:
            act = actions[stack[-1]].get("$END")
            if act is None or act[0] == SHIFT:  # $END is never shifted
                raise self._unexpected(end_token, stack, values)
            self._reduce(act, stack, values)
            if stack[-1] == end:
                return values[-1]

    def _reduce(self, act: tuple, stack: list, values: list) -> None:
        _, size, callback, origin = act
        if size:
            args = values[-size:]
            del values[-size:]
            del stack[-size:]
        else:
            args = []
        values.append(callback(args))
        stack.append(self.actions[stack[-1]][origin][1])

    def accepts(self, state) -> dict:
        return self.actions[state]

    def _unexpected(self, token: Token, stack: list, values: list) -> UnexpectedToken:
        expected = {s for s in self.actions[stack[-1]] if s.isupper()}
        error = UnexpectedToken(token, expected, terminals_by_name=self.terminals_by_name)
        error.values = list(values)  # what had been parsed: lets the caller explain better
        return error
