"""A lean LALR(1) driver over the parse table Lark builds from grammar.lark.

Lark stays the parser generator (grammar, table, conflict checks); this loop replaces
its general-purpose `feed_token` and its tree-building callbacks, which pay for
features we don't use (interactive parsing, token callbacks, `Tree` nodes for helper
rules). Each state's actions are flattened once into tuples, so a step is one dict
lookup, and each rule gets one callback, made per parse from that parse's transformer:

- a rule whose name starts with `_` (grammar helpers and `__x_star` repetitions)
  returns its children as a `Splice`, which the parent rule flattens in place (a
  repetition grows its list in place, so long lists and operator chains stay linear);
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


def _grow(size: int, positions: tuple[int, ...]) -> Callable[[list], Splice]:
    """A helper rule whose first child is a `Splice`: extend that one in place.

    Left recursion (`__x_star: __x_star _infix _operand`) reduces once per item; copying
    the list so far each time made long operator chains quadratic. The first child is
    always a fresh `Splice` that only this reduction consumes, so growing it is safe."""
    spliced = tuple(i in positions for i in range(size))
    if spliced[1:] == (False,) * (size - 1):
        def grow(children: list) -> Splice:
            head = children[0]
            head.extend(children[1:])
            return head
        return grow

    def grow_spliced(children: list) -> Splice:
        head = children[0]
        for i in range(1, len(children)):
            if spliced[i]:
                head.extend(children[i])
            else:
                head.append(children[i])
        return head
    return grow_spliced


class RulePlan:
    """What one rule's reduce action needs, worked out once per grammar.

    A helper rule's action does not depend on the transformer, so it is made here;
    another rule's is bound to each parse's transformer by `bind` (cheap: a lookup,
    and a closure only when children are flattened or a `?rule` may pass one through)."""

    __slots__ = ("name", "positions", "expand1", "single", "helper_action")

    def __init__(self, rule) -> None:
        positions = tuple(i for i, sym in enumerate(rule.expansion) if sym.name.startswith("_"))
        self.positions = positions
        self.name = "".join((rule.alias or rule.origin.name,))  # plain str
        self.expand1 = bool(rule.options.expand1 and rule.alias is None)
        self.single = len(rule.expansion) == 1
        self.helper_action: Callable[[list], Any] | None = None
        if rule.origin.name.startswith("_"):
            if positions[:1] == (0,):
                self.helper_action = _grow(len(rule.expansion), positions)
            elif positions:
                self.helper_action = lambda children: Splice(_flatten(children, positions))
            else:
                self.helper_action = Splice

    def bind(self, transformer) -> Callable[[list], Any]:
        """The reduce action of this rule for `transformer` (see the module docstring)."""
        if self.helper_action is not None:
            return self.helper_action
        method = getattr(transformer, self.name, None)
        positions, expand1 = self.positions, self.expand1
        if method is None:
            if expand1 and self.single:
                return _first
            raise TypeError(f"no transformer method for rule {self.name}")
        if not positions and not expand1:
            return method

        def callback(children: list):
            if positions:
                children = _flatten(children, positions)
            if expand1 and len(children) == 1:
                return children[0]
            return method(children)

        return callback


def _first(children: list):
    return children[0]


class Table:
    """The LALR table of `lark`, flattened for `parse`; built once, shared by all parses.

    It holds no per-parse state: the callbacks (bound to one parse's transformer) are
    passed to each `parse` call, so parses may run in any number of threads at once."""

    def __init__(self, lark: Lark) -> None:
        table = lark.parser.parser._parse_table
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        self.rules = list(lark.rules)
        self.plans = [RulePlan(rule) for rule in self.rules]
        index = {rule: i for i, rule in enumerate(self.rules)}
        self.actions: dict[Any, dict[str, tuple]] = {}
        for state, acts in table.states.items():
            flat: dict[str, tuple] = {}
            for term, (action, arg) in acts.items():
                term = _plain(term)  # Lark names are `Token`s, whose __eq__ is slow
                if action is Shift:
                    flat[term] = (SHIFT, arg)
                else:
                    flat[term] = (REDUCE, len(arg.expansion), index[arg], _plain(arg.origin.name))
            self.actions[state] = flat
        self.terminals_by_name = {t.name: t for t in lark.terminals}

    def callbacks(self, transformer) -> list[Callable[[list], Any]]:
        """The reduce action of every rule, by rule index, for one transformer."""
        return [plan.bind(transformer) for plan in self.plans]

    def expected(self, state) -> set[str]:
        """The terminals `state` accepts."""
        return {s for s in self.actions[state] if s.isupper()}

    def parse(self, text: str, tokens: Callable[[str, list], Iterator[Token]], callbacks: list):
        """`tokens(text, stack)` yields tokens; it may look at `stack[-1]` (the state).

        Whatever it raises carries what had been parsed (`values`), the states that left
        (`states`) and the state in which the last token read before the failing one
        arrived, before the reductions it caused (`arrival`): enough for the caller to
        keep the complete declarations (`finish`) and to tell what a stray word stood in
        for."""
        actions, end = self.actions, self.end
        stack: list = [self.start]
        values: list = []
        token = None
        arrival = previous = self.start
        try:
            for token in tokens(text, stack):
                t = token[0]  # the type; tuple indexing is the cheapest read
                previous, arrival = arrival, stack[-1]
                while True:
                    act = actions[stack[-1]].get(t)
                    if act is None:
                        raise self._unexpected(token, stack, values)
                    if act[0] == SHIFT:
                        stack.append(act[1])
                        values.append(token)
                        break
                    _, size, rule, origin = act
                    if size:
                        value = callbacks[rule](values[-size:])
                        del values[-size:]
                        del stack[-size:]
                    else:
                        value = callbacks[rule]([])
                    values.append(value)
                    stack.append(actions[stack[-1]][origin][1])
            if token is None:
                end_token = make_token("$END", "", 1, 1, 1, 1, 0, 0)
            else:
                end_token = make_token("$END", "", token.end_line, token.end_column, token.end_line,
                                       token.end_column, token.end_pos, token.end_pos)
            previous = arrival
            while True:
                act = actions[stack[-1]].get("$END")
                if act is None or act[0] == SHIFT:  # $END is never shifted
                    raise self._unexpected(end_token, stack, values)
                _, size, rule, origin = act
                value = callbacks[rule](values[-size:] if size else [])
                if size:
                    del values[-size:]
                    del stack[-size:]
                values.append(value)
                stack.append(actions[stack[-1]][origin][1])
                if stack[-1] == end:
                    return values[-1]
        except Exception as e:  # noqa: BLE001 - annotated and raised again
            if not hasattr(e, "states"):
                e.values, e.states, e.arrival = values, stack, previous
            raise

    def _unexpected(self, token: Token, stack: list, values: list) -> UnexpectedToken:
        return UnexpectedToken(token, self.expected(stack[-1]), terminals_by_name=self.terminals_by_name)

    def finish(self, states: list, values: list, callbacks: list):
        """What the parse of a failed `parse` (its error's `states` and `values`) would
        have returned had the input ended there, or None if it could not end there.

        A file cut off at a syntax error thus keeps everything complete before it:
        `when a.b severity info 42` still has its monitor (and the error at `42`)."""
        actions, stack, values = self.actions, list(states), list(values)
        while True:
            act = actions[stack[-1]].get("$END")
            if act is None or act[0] == SHIFT:
                return None
            _, size, rule, origin = act
            try:
                value = callbacks[rule](values[-size:] if size else [])
            except Exception:  # noqa: BLE001 - a declaration without meaning: nothing to keep
                return None
            if size:
                del values[-size:]
                del stack[-size:]
            values.append(value)
            stack.append(actions[stack[-1]][origin][1])
            if stack[-1] == self.end:
                return values[-1]
