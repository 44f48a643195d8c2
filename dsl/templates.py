"""Template strings: Jinja2 syntax (E308) and the variables they may use (W503).

Templates render in a sandbox with the context `monitor alert event group secrets`;
Prismatic-style `$NAME` variables are substituted too. A string without `{{`, `{%`,
`{#` or `$` is plain text and not looked at.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error, warning
from dsl.suggest import did_you_mean

_DOLLAR = re.compile(r"\$([A-Z][A-Z0-9_]*)")
_JINJA_MARKS = ("{{", "{%", "{#")


class _AnalysisOnly(ImmutableSandboxedEnvironment):
    """Parses and analyses templates without computing any of them. Jinja folds constant
    expressions while it compiles (which `find_undeclared_variables` does): a rule's
    `{{ ((10**64)**64)**64 }}` or `{{ 'x'|center(10**9) }}` kept lint, validate and a
    hot reload busy for half a minute. Operators a sandbox intercepts are never folded,
    and filters and tests that refuse to run are not either (Jinja gives up on a constant
    whose evaluation raises); unknown filters are still reported."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self) -> None:
        super().__init__()
        self.filters = {name: _never_run(f) for name, f in self.filters.items()}
        self.tests = {name: _never_run(f) for name, f in self.tests.items()}


def _never_run(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps `jinja_pass_arg`, which decides how Jinja calls it
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("templates are not evaluated while rules are checked")

    return refuse


@lru_cache(maxsize=1)
def _env() -> ImmutableSandboxedEnvironment:
    return _AnalysisOnly()


@lru_cache(maxsize=4096)
def _analyse(text: str) -> tuple[str | None, tuple[str, ...]]:
    """(Jinja's complaint or None, top-level variables); rule sets repeat templates a lot."""
    try:  # compiling also catches unknown filters and tests (`| upcase`)
        return None, tuple(sorted(meta.find_undeclared_variables(_env().parse(text))))
    except TemplateError as e:
        return e.message or str(e), ()


def is_template(text: str) -> bool:
    return any(mark in text for mark in _JINJA_MARKS)


def is_whole_template(text: str) -> bool:
    """`"{{ secrets.URL }}"`: the value is known only at delivery time."""
    stripped = text.strip()
    return stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1


def check_template(s: A.String) -> list[Diagnostic]:
    """E308 for a Jinja syntax error, W503 for each unknown variable."""
    out: list[Diagnostic] = []
    if is_template(s.value):
        problem, names = _analyse(s.value)
        if problem is not None:
            return [error(s.span, "E308", f"template error: {problem}",
                          "templates look like `{{ event.instance.name }}`")]
        for name in names:
            if name not in C.TEMPLATE_VARIABLES:
                hint = did_you_mean(name, C.TEMPLATE_VARIABLES) or \
                    "templates see " + ", ".join(C.TEMPLATE_VARIABLES)
                out.append(warning(_locate(s, name), "W503", f"unknown template variable `{name}`", hint))
    for m in _DOLLAR.finditer(s.value):
        if m.group(1) not in C.PRISMATIC_VARIABLES:
            known = ["$" + v for v in C.PRISMATIC_VARIABLES]
            hint = did_you_mean(m.group(0), known) or "known: " + " ".join(known)
            out.append(warning(_locate(s, m.group(0)), "W503", f"unknown variable `{m.group(0)}`", hint))
    return out


def _locate(s: A.String, needle: str) -> A.Span:
    """The span of `needle` inside a one-line string without escapes, else the string's."""
    span = s.span
    raw_width = span.end_column - span.column - 2
    if span.line != span.end_line or s.triple or raw_width != len(s.value):
        return span
    match = re.search(r"(?<![A-Za-z0-9_])" + re.escape(needle) + r"(?![A-Za-z0-9_])", s.value)
    if match is None:
        return span
    start = span.column + 1 + match.start()
    return A.Span(span.file, span.line, start, span.line, start + len(needle))


def json_strings(v) -> list[A.String]:
    """Every string leaf of a JSON literal (object keys excluded: they are not rendered)."""
    if isinstance(v, A.String):
        return [v]
    if isinstance(v, A.JsonObject):
        return [s for _, val in v.members for s in json_strings(val)]
    if isinstance(v, A.JsonArray):
        return [s for item in v.items for s in json_strings(item)]
    return []
