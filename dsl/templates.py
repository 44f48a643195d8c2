"""Template strings, one at a time: Jinja2 syntax (E308).

Templates render in a sandbox with the context `monitor alert event group secrets`;
Prismatic-style `$NAME` variables are substituted too. A string without `{{`, `{%`,
`{#` is plain Jinja-free text. What a template reads (names, fields, values that may be
missing, secrets) depends on the monitors that render it and is checked across the rule
set by `dsl.template_check`; the analysis behind both never evaluates a template
(`dsl.template_paths`).
"""

from __future__ import annotations

from dsl import ast as A
from dsl.diagnostics import Diagnostic, error
from dsl.template_paths import analyse, is_template

__all__ = ["check_template", "is_template", "is_whole_template", "json_strings"]


def is_whole_template(text: str) -> bool:
    """`"{{ secrets.URL }}"`: the value is known only at delivery time."""
    stripped = text.strip()
    return stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1


def check_template(s: A.String) -> list[Diagnostic]:
    """E308 when Jinja cannot compile the string (a syntax error, an unknown filter or test)."""
    if not is_template(s.value):
        return []
    problem = analyse(s.value).problem
    if problem is None:
        return []
    return [error(s.span, "E308", f"template error: {problem}",
                  "templates look like `{{ event.instance.name }}`")]


def json_strings(v) -> list[A.String]:
    """Every string leaf of a JSON literal (object keys excluded: they are not rendered)."""
    if isinstance(v, A.String):
        return [v]
    if isinstance(v, A.JsonObject):
        return [s for _, val in v.members for s in json_strings(val)]
    if isinstance(v, A.JsonArray):
        return [s for item in v.items for s in json_strings(item)]
    return []
