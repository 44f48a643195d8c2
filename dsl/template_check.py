"""The checker's template stage: every template of the rule set against its context.

    diagnostics = check_templates(files, symbols, monitors, context)

Runs after names are collected, because a channel's templates are rendered with the
alerts of every monitor that notifies it (`dsl.template_uses`). Each string is analysed
once per distinct text (`dsl.template_paths`, cached, nothing evaluated); one with a
syntax error (E308, reported by `dsl.templates.check_template` where the string is
checked) is skipped here. Codes: E207, E208, W503, W504 (`dsl.template_types`), W506
(`dsl.template_url`) and, with an environment, W505 (`dsl.template_environment`).
"""

from __future__ import annotations

from dsl import ast as A
from dsl.diagnostics import Diagnostic
from dsl.refs import Symbols
from dsl.template_environment import TemplateEnvironment, unset_secrets
from dsl.template_paths import analyse
from dsl.template_types import check_paths
from dsl.template_url import url_warnings
from dsl.template_uses import template_usages


def check_templates(files: list[A.RuleFile], symbols: Symbols, monitors: list[tuple[str, A.Monitor, str]],
                    context: TemplateEnvironment | None = None) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for string, usages in template_usages(files, symbols, monitors):
        analysis = analyse(string.value)
        if analysis.problem is not None:
            continue
        out += check_paths(string, analysis, usages)
        out += unset_secrets(string, analysis, context)
    return out + url_warnings(files)
