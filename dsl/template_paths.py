"""One template's text, analysed without evaluating it: the paths it reads, and where.

    analysis = analyse("{{ event.instance.name | default('?') }} on $FLOW")
    analysis.problem   # Jinja's complaint (a syntax error, an unknown filter) or None
    analysis.paths     # (PathUse(root="event", steps=("instance", "name"), guarded=True, …),)
    analysis.dollars   # (Dollar("FLOW", 44, 49),)

Paths come from Jinja's AST: a `Name` the template does not set itself (`{% set %}`,
loop variables and macro arguments are its own), followed by `Getattr`s and `Getitem`s
with a constant string key; a computed key (`secrets[x]`, `s[1:]`) ends what can be
known, and the method of a call (`event.message.upper()`) is not a field. A path is
*guarded* when the template copes with its value missing: inside `| default(…)` (or
`| d`), an `is` test, the test of `{% if %}` or `… if … else …`, the left side of
`or`/`and`, a loop's iterable; or anywhere inside an `if`, conditional expression or
`and`/`or` that tests the same path or one it starts with (`{% if group %}` guards
`group.name`: a template that tests a value knows it may be missing).

Nothing is computed: Jinja folds constant expressions while it compiles, which
`find_undeclared_variables` does, so the environment here intercepts every arithmetic
operator and refuses to run filters and tests (a rule's `{{ ((10**64)**64)**64 }}` once
kept lint, validate and a hot reload busy for half a minute). Where each path sits in
the text is `dsl.template_spans`' job. Results are cached by text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dsl.template_spans import locate

DOLLAR = re.compile(r"\$([A-Z][A-Z0-9_]*)")
JINJA_MARKS = ("{{", "{%", "{#")
_DEFAULT_FILTERS = frozenset({"default", "d"})


@dataclass(frozen=True, slots=True)
class PathUse:
    """`root.steps…` read by a template; `ends[i]` is the offset where the path's first
    i+1 parts end in the text (`start` and `ends` are None and () when not located)."""

    root: str
    steps: tuple[str, ...]
    guarded: bool
    start: int | None = None
    ends: tuple[int, ...] = ()

    def dotted(self, parts: int | None = None) -> str:
        """`root.step…` with `parts` steps (all by default)."""
        steps = self.steps if parts is None else self.steps[:parts]
        return ".".join((self.root, *steps))

    def end(self, parts: int) -> int | None:
        """The offset just after the root and `parts` steps, if located."""
        return self.ends[parts] if parts < len(self.ends) else None


@dataclass(frozen=True, slots=True)
class Dollar:
    """A Prismatic-style `$NAME` in the text, at [start, end)."""

    name: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TemplateAnalysis:
    problem: str | None
    paths: tuple[PathUse, ...] = ()
    dollars: tuple[Dollar, ...] = ()


class _AnalysisOnly(ImmutableSandboxedEnvironment):
    """Parses and analyses templates without computing any of them. Operators a sandbox
    intercepts are never folded, and filters and tests that refuse to run are not either
    (Jinja gives up on a constant whose evaluation raises); unknown filters are still
    reported. Its filters, tests and globals are those of the send-time sandbox
    (`delivery.sandbox.Sandbox`, which leaves out `urlize` and `lipsum`; a test compares them)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self) -> None:
        super().__init__()
        self.globals.pop("lipsum", None)
        self.filters = {name: _never_run(f) for name, f in self.filters.items() if name != "urlize"}
        self.tests = {name: _never_run(f) for name, f in self.tests.items()}


def _never_run(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps `jinja_pass_arg`, which decides how Jinja calls it
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("templates are not evaluated while rules are checked")

    return refuse


@lru_cache(maxsize=1)
def analysis_env() -> ImmutableSandboxedEnvironment:
    return _AnalysisOnly()


def is_template(text: str) -> bool:
    return any(mark in text for mark in JINJA_MARKS)


@lru_cache(maxsize=4096)
def analyse(text: str) -> TemplateAnalysis:
    """What `text` reads; plain text without `{{`, `{%`, `{#` has only `$` variables."""
    dollars = tuple(Dollar(m.group(1), m.start(), m.end()) for m in DOLLAR.finditer(text))
    if not is_template(text):
        return TemplateAnalysis(None, (), dollars)
    env = analysis_env()
    try:  # compiling also catches unknown filters and tests (`| upcase`)
        tree = env.parse(text)
        undeclared = meta.find_undeclared_variables(tree)
    except TemplateError as e:
        return TemplateAnalysis(e.message or str(e), (), dollars)
    except RecursionError:
        return TemplateAnalysis("the template is nested too deeply", (), dollars)
    own = {n.name for n in tree.find_all(nodes.Name) if n.ctx != "load"}
    found = _Walker(frozenset(undeclared - own)).run(tree)
    where = locate(env.lexer, text, [(root, steps) for root, steps, _ in found])
    paths = tuple(PathUse(root, steps, guarded, start, ends)
                  for (root, steps, guarded), (start, ends) in zip(found, where))
    return TemplateAnalysis(None, paths, dollars)


# ------------------------------------------------------------------- the AST walk

_Guards = frozenset  # of (root, steps) tested by an enclosing `if`, conditional or `and`/`or`


class _Walker:
    """Collects (root, steps, guarded) for every path of `roots`, in source order."""

    def __init__(self, roots: frozenset[str]) -> None:
        self.roots = roots
        self.found: list[tuple[str, tuple[str, ...], bool]] = []

    def run(self, node: nodes.Node) -> list[tuple[str, tuple[str, ...], bool]]:
        self.visit(node, False, _Guards())
        return self.found

    def tested(self, node: nodes.Node | None) -> _Guards:
        """The paths a test reads: they are guarded in what the test decides."""
        if node is None:
            return _Guards()
        return _Guards((root, steps) for root, steps, _ in _Walker(self.roots).run(node))

    def visit(self, node: nodes.Node | None, guarded: bool, guards: _Guards) -> None:
        if node is None:
            return
        if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            self.path(node, guarded, guards, called=False)
        elif isinstance(node, nodes.Call):
            self.path(node.node, guarded, guards, called=True)
            for child in (*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs):
                self.visit(child, guarded, guards)
        elif isinstance(node, (nodes.If, nodes.CondExpr)):
            inner = guards | self.tested(node.test)
            self.visit(node.test, True, guards)
            for child in node.iter_child_nodes():
                if child is not node.test:
                    self.visit(child, guarded, inner)
        elif isinstance(node, (nodes.And, nodes.Or)):
            self.visit(node.left, True, guards)
            self.visit(node.right, guarded, guards | self.tested(node.left))
        elif isinstance(node, nodes.For):
            for child in node.iter_child_nodes():
                quiet = child is node.iter or child is node.test
                self.visit(child, guarded or quiet, guards)
        elif isinstance(node, (nodes.Filter, nodes.Test)):
            copes = isinstance(node, nodes.Test) or node.name in _DEFAULT_FILTERS
            for child in node.iter_child_nodes():
                self.visit(child, guarded or (copes and child is node.node), guards)
        else:
            for child in node.iter_child_nodes():
                self.visit(child, guarded, guards)

    def path(self, node: nodes.Node, guarded: bool, guards: _Guards, *, called: bool) -> None:
        steps: list[str] = []  # outermost first while unwinding
        keys: list[nodes.Node] = []
        while isinstance(node, (nodes.Getattr, nodes.Getitem)):
            if isinstance(node, nodes.Getattr):
                steps.append(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                steps.append(node.arg.value)
            else:  # a computed key: nothing after it can be known
                steps.clear()
                keys.append(node.arg)
            node = node.node
        steps.reverse()
        if called and steps and not keys:
            steps.pop()  # `x.upper()`: a method, not a field (after a computed key it is gone)
        if isinstance(node, nodes.Name):
            if node.ctx == "load" and node.name in self.roots:
                path = tuple(steps)
                tested = any(root == node.name and path[:len(sub)] == sub for root, sub in guards)
                self.found.append((node.name, path, guarded or tested))
        else:
            self.visit(node, guarded, guards)
        for key_node in keys:
            self.visit(key_node, guarded, guards)
