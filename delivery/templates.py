"""Template rendering: Jinja2 in the sandbox, Prismatic `$VARS`, JSON payloads leaf by leaf.

    renderer = Renderer(max_bytes=65536, max_seconds=0.5)
    text = renderer.render("{{ monitor.name }} on $INSTANCE", context, where="message")
    payload = renderer.render_json({"text": "{{ alert.url }}"}, context, where="payload")

A missing variable (`StrictUndefined`), a sandbox refusal, a syntax error or a breached
cap raises `TemplateError` naming the template (`where`), never a silent blank. A missing
`{{ secrets.X }}` raises `SecretMissing`. `$VARS` whose value is unknown (an absence
alert has no `$EXECUTION_ID`) render empty. `template_problems()` is the check-time lint.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes

from delivery.errors import SecretMissing, TemplateError
from delivery.sandbox import Sandbox

PRISMATIC_VARS = (
    "SUBJECT", "NAME", "INSTANCE_ID", "INSTANCE", "EXECUTION_ID", "CUSTOMER_EXTERNAL_ID",
    "CUSTOMER", "FLOW", "TRIGGER", "STEP", "URL",
)
_PRISMATIC = re.compile(r"\$(" + "|".join(PRISMATIC_VARS) + r")\b")
CONTEXT_NAMES = frozenset({"monitor", "alert", "event", "group", "secrets"})
KNOWN_FIELDS = {
    "monitor": frozenset({"name", "severity", "labels"}),
    "alert": frozenset({
        "id", "status", "kind", "key", "count", "value", "threshold", "fired_at",
        "resolved_at", "url", "message", "labels", "severity", "monitor",
    }),
    "group": frozenset({"name", "members"}),
}


def substitute_prismatic(source: str) -> str:
    """`$NAME` -> `{{ _prismatic.NAME }}`, longest variable names first."""
    if "$" not in source:
        return source
    return _PRISMATIC.sub(lambda m: "{{ _prismatic." + m.group(1) + " }}", source)


class Renderer:
    """Compiles (with a cache) and renders templates within the configured caps."""

    def __init__(self, *, max_bytes: int = 64 * 1024, max_seconds: float = 0.5) -> None:
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._env = Sandbox()
        self._compile = lru_cache(maxsize=2048)(self._compile_uncached)

    def _compile_uncached(self, source: str) -> jinja2.Template:
        tree = self._env.bounded_parse(substitute_prismatic(source))
        return self._env.from_string(tree)

    def render(self, source: str, context: dict[str, Any], *, where: str) -> str:
        """Render one template string; plain text without `{` or `$` is returned as is."""
        if "{" not in source and "$" not in source:
            return source
        try:
            template = self._compile(source)
            return self._env.render(
                template, context, max_bytes=self.max_bytes, max_seconds=self.max_seconds
            )
        except SecretMissing:
            raise
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{where}: undefined variable: {exc.message}") from None
        except jinja2.TemplateError as exc:  # SecurityError, RenderLimit
            raise TemplateError(f"{where}: refused: {exc}") from None
        except Exception as exc:  # errors raised by the template's own expressions
            raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None

    def render_json(self, value: Any, context: dict[str, Any], *, where: str) -> Any:
        """Render every string leaf of a JSON value; keys and non-strings stay as they are.

        The result is plain Python JSON data, so `json.dumps` of it is always valid JSON,
        whatever the rendered strings contain.
        """
        if isinstance(value, str):
            return self.render(value, context, where=where)
        if isinstance(value, dict):
            return {k: self.render_json(v, context, where=f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.render_json(v, context, where=f"{where}[{i}]") for i, v in enumerate(value)]
        return value


def template_problems(source: str) -> list[str]:
    """What can be known wrong about a template before send time (for the checker).

    Syntax errors, names outside the context (`monitor alert event group secrets`) and
    unknown fields of `monitor`, `alert` and `group`. Fields of `event` depend on the
    event and are not checked here.
    """
    env = Sandbox()
    try:
        tree = env.parse(substitute_prismatic(source))
    except jinja2.TemplateSyntaxError as exc:
        return [f"template syntax error: {exc.message}"]
    problems = [
        f"unknown template variable '{name}' (known: {', '.join(sorted(CONTEXT_NAMES))})"
        for name in sorted(meta.find_undeclared_variables(tree) - CONTEXT_NAMES - {"_prismatic"} - set(env.globals))
    ]
    for node in tree.find_all(nodes.Getattr):
        base = node.node
        if isinstance(base, nodes.Name) and base.name in KNOWN_FIELDS:
            if node.attr not in KNOWN_FIELDS[base.name]:
                known = ", ".join(sorted(KNOWN_FIELDS[base.name]))
                problems.append(f"'{base.name}' has no field '{node.attr}' (known: {known})")
    return problems
