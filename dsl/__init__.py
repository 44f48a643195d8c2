"""The monitor language: parse -> AST -> check -> RuleSet.

    from dsl import parse, check, load
    rule_file, syntax_diagnostics = parse(text, file="ops.rules")
    diagnostics = check([rule_file])          # every problem, across files
    ruleset, diagnostics = load({"ops.rules": text})

The package imports nothing else of Tocsin's.
"""

from __future__ import annotations

from dsl.ast import RuleFile, Span
from dsl.diagnostics import Diagnostic
from dsl.parser import parse

__all__ = ["parse", "check", "load", "RuleFile", "Span", "Diagnostic"]


def check(files, *, context=None):
    """All diagnostics for parsed files (syntax diagnostics are the parser's)."""
    from dsl.checker import check as _check

    return _check(files, context=context)


def load(sources: dict[str, str], *, context=None):
    """Parse and check `{file name: text}`; a `RuleSet` when there are no errors."""
    from dsl.checker import load as _load

    return _load(sources, context=context)
