"""A lean LALR(1) driver over the parse table Lark builds from grammar.lark.

Lark stays the parser generator (grammar, table, conflict checks); this loop replaces
its general-purpose `feed_token` and its tree-building callbacks, which pay for
features we don't use (interactive parsing, token callbacks, `Tree` nodes for helper
rules). Each state's actions are flattened once into tuples, so a step is one dict
lookup, and each rule gets one precomputed callback:

- a rule whose name starts with `_` (grammar helpers and `__x_star` repetitions)
  returns its children as a `Splice`, which the parent rule flattens in place;
- a `?rule` with a single child and no alias returns that child;
- any other rule calls the transformer method named after its alias or rule.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from lark import Lark
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_analysis import Shift

from dsl.lexer import Tok as Token
from dsl.lexer import make_token

SHIFT = 0
REDUCE = 1


def _plain(name) -> str:
    return "".join((name,))


class Splice(list):
    """Children of a helper rule, to be spliced into the parent's children."""

    __slots__ = ()


def _flatten(children: list, positions: tuple[int, ...]) -> list:
    out: list = []
    last = 0
    for i in positions:
        out.extend(children[last:i])
        out.extend(children[i])
        last = i + 1
    out.extend(children[last:])
    return out


def rule_callback(rule, transformer) -> Callable[[list], Any]:
    """The reduce action of one grammar rule (see the module docstring)."""
    positions = tuple(i for i, sym in enumerate(rule.expansion) if sym.name.startswith("_"))
    if rule.origin.name.startswith("_"):
        if positions == (0,):  # left recursion `__x_star: __x_star item`: grow in place
            def grow(children: list) -> Splice:
                head = children[0]
                head.extend(children[1:])
                return head
            return grow
        if positions:
            return lambda children: Splice(_flatten(children, positions))
        return Splice
    expand1 = rule.options.expand1 and rule.alias is None
    method = getattr(transformer, rule.alias or rule.origin.name, None)
    if method is None:
        if not (expand1 and len(rule.expansion) == 1):
            raise TypeError(f"no transformer method for rule {rule.alias or rule.origin.name}")
        return lambda children: children[0]
    if not positions and not expand1:
        return method

    def callback(children: list):
        if positions:
            children = _flatten(children, positions)
        if expand1 and len(children) == 1:
            return children[0]
        return method(children)

    return callback


class Driver:
    """Runs the LALR table of `lark` with the methods of `transformer`."""

    def __init__(self, lark: Lark, transformer) -> None:
        table = lark.parser.parser._parse_table
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        callbacks = {rule: rule_callback(rule, transformer) for rule in lark.rules}
        self.actions: dict[Any, dict[str, tuple]] = {}
        for state, acts in table.states.items():
            flat: dict[str, tuple] = {}
            for term, (action, arg) in acts.items():
                term = _plain(term)  # Lark names are `Token`s, whose __eq__ is slow
                if action is Shift:
                    flat[term] = (SHIFT, arg)
                else:
                    flat[term] = (REDUCE, len(arg.expansion), callbacks[arg], _plain(arg.origin.name))
            self.actions[state] = flat
        self.terminals_by_name = {t.name: t for t in lark.terminals}

    def parse(self, text: str, tokens: Callable[[str, list], Iterator[Token]]):
        """`tokens(text, stack)` yields tokens; it may look at `stack[-1]` (the state)."""
        actions, end = self.actions, self.end
        stack: list = [self.start]
        values: list = []
        token = None
        for token in tokens(text, stack):
            t = token[0]  # the type; tuple indexing is the cheapest read
            while True:
                act = actions[stack[-1]].get(t)
                if act is None:
                    raise self._unexpected(token, stack, values)
                if act[0] == SHIFT:
                    stack.append(act[1])
                    values.append(token)
                    break
                _, size, callback, origin = act
                if size:
                    value = callback(values[-size:])
                    del values[-size:]
                    del stack[-size:]
                else:
                    value = callback([])
                values.append(value)
                stack.append(actions[stack[-1]][origin][1])
        if token is None:
            end_token = make_token("$END", "", 1, 1, 1, 1, 0, 0)
        else:
            end_token = make_token("$END", "", token.end_line, token.end_column, token.end_line,
                                   token.end_column, token.end_pos, token.end_pos)
        while True:
            act = actions[stack[-1]].get("$END")
            if act is None or act[0] == SHIFT:  # $END is never shifted
                raise self._unexpected(end_token, stack, values)
            self._reduce(act, stack, values)
            if stack[-1] == end:
                return values[-1]

    def _reduce(self, act: tuple, stack: list, values: list) -> None:
        """One reduction (the token loop above has the same steps inlined for speed)."""
        _, size, callback, origin = act
        value = callback(values[-size:] if size else [])
        if size:
            del values[-size:]
            del stack[-size:]
        values.append(value)
        stack.append(self.actions[stack[-1]][origin][1])

    def _unexpected(self, token: Token, stack: list, values: list) -> UnexpectedToken:
        expected = {s for s in self.actions[stack[-1]] if s.isupper()}
        error = UnexpectedToken(token, expected, terminals_by_name=self.terminals_by_name)
        error.values = list(values)  # what had been parsed: lets the caller explain better
        return error
