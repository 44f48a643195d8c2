"""The checker: every problem of a rule set, across files, and the `RuleSet` built from it.

    diagnostics = check([rule_file, ...])              # parsed files, syntax aside
    ruleset, diagnostics = load({"ops.rules": text})   # parse + check + build

Stages: blocks (`check_blocks`) and monitors (`check_monitors`) one by one, then names
across all files (`refs`), then what templates read, with the monitors that render each
one known (`template_check`); `build` runs only when no error was found (warnings don't
block). Diagnostics come back sorted by file, line and column, without repeats.
`context` is the environment the rules will run in (`TemplateEnvironment`: the secrets
that are set), or None to check the text alone.
"""

from __future__ import annotations

from dsl import ast as A
from dsl.build import build_ruleset
from dsl.check_blocks import check_block
from dsl.check_monitors import check_monitor
from dsl.diagnostics import Diagnostic, has_errors, sort_key
from dsl.parser import gc_paused, parse
from dsl.refs import check_references, collect, monitor_names
from dsl.ruleset import RuleSet
from dsl.template_check import check_templates
from dsl.template_environment import TemplateEnvironment


def check(files: list[A.RuleFile], *, context: TemplateEnvironment | None = None) -> list[Diagnostic]:
    """All semantic diagnostics of `files` checked together."""
    with gc_paused():
        return _check(files, context)[0]


def load(sources: dict[str, str], *,
         context: TemplateEnvironment | None = None) -> tuple[RuleSet | None, list[Diagnostic]]:
    """Parse and check `{file name: text}`; a `RuleSet` when nothing is an error."""
    files: list[A.RuleFile] = []
    diagnostics: list[Diagnostic] = []
    for name, text in sources.items():
        rule_file, syntax = parse(text, file=name)
        files.append(rule_file)
        diagnostics.extend(syntax)
    with gc_paused():
        semantic, named = _check(files, context)
        diagnostics = finish(diagnostics + semantic)
        if has_errors(diagnostics):
            return None, diagnostics
        return build_ruleset(files, named), diagnostics


def _check(files: list[A.RuleFile], context: TemplateEnvironment | None = None) -> tuple[list[Diagnostic], list]:
    out: list[Diagnostic] = []
    for rf in files:
        for decl in rf.declarations:
            out.extend(check_block(decl) if isinstance(decl, A.Block) else check_monitor(decl))
    symbols, duplicates = collect(files)
    named, name_problems = monitor_names(files)
    out += duplicates + name_problems + check_references(files, symbols)
    out += check_templates(files, symbols, named, context)
    return finish(out), named


def finish(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, line, column and code, each diagnostic once."""
    seen: set = set()
    unique = []
    for d in diagnostics:
        key = (d.span, d.code, d.message)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return sorted(unique, key=sort_key)
