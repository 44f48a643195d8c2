"""Template rendering: Jinja2 in the sandbox, Prismatic `$VARS`, JSON payloads leaf by leaf.

    renderer = Renderer(max_bytes=65536, max_seconds=0.5)
    text = renderer.render("{{ monitor.name }} on $INSTANCE", context, where="message")
    payload = renderer.render_json({"text": "{{ alert.url }}"}, context, where="payload")

Lenient by design, because a notification is never dropped for a template reason:
- an undefined path renders empty, however deep (`{{ event.instance.name }}` on an event
  without `instance`); so does a value that is `null` (`None` never prints as "None");
- `| default(x)` (and `| d(x)`) applies when the value is undefined, `null` or the
  empty string, not for `0`, `false` or an empty list; `default(x, true)` keeps Jinja's
  meaning (any false value).
What still cannot render (a syntax error, a sandbox refusal, a breached cap, an
undefined value used in arithmetic, a missing `{{ secrets.X }}`) raises `TemplateError`
(`SecretMissing`) naming the template (`where`) and the reason in a few words; the
message never quotes a value. `SendContext` turns those into fallbacks and render
warnings. `finite_json()` makes any JSON value encodable as strict JSON.
The variables and fields of the context are the checker's (`dsl.catalog`), and so is
the check-time lint of templates (`dsl.template_check`).
A URL template (`render(…, url=True)`) percent-encodes every printed value as data
(`delivery.url_template`), so event data cannot change where a request goes.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import ChainableUndefined, Undefined, UndefinedError
from jinja2.sandbox import SecurityError

from delivery.errors import SecretMissing, TemplateError
from delivery.sandbox import RenderLimit, Sandbox
from delivery.sandbox_filters import bounded
from delivery.url_template import URL_PART, quote_printed_values, url_part
from dsl.catalog import PRISMATIC_VARIABLES

# Longest first, so `$INSTANCE_ID` is not read as `$INSTANCE` + "_ID".
_PRISMATIC = re.compile(r"\$(" + "|".join(sorted(PRISMATIC_VARIABLES, key=len, reverse=True)) + r")\b")


def substitute_prismatic(source: str) -> str:
    """`$NAME` -> `{{ _prismatic.NAME }}`, longest variable names first."""
    if "$" not in source:
        return source
    return _PRISMATIC.sub(lambda m: "{{ _prismatic." + m.group(1) + " }}", source)


def clean_text(text: str) -> str:
    """`text` that encodes as UTF-8: lone surrogates (JSON allows `"\\ud800"`) -> U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class LenientUndefined(ChainableUndefined):
    """Chainable and empty, except what the sandbox refused: that stays an error
    (reported, and the template falls back), never a silent blank."""

    __slots__ = ()

    def __init__(self, hint: str | None = None, obj: Any = jinja2.utils.missing,
                 name: str | None = None, exc: type[Exception] = UndefinedError) -> None:
        if isinstance(exc, type) and issubclass(exc, SecurityError):
            raise exc(hint or "refused by the sandbox")
        super().__init__(hint, obj, name, exc)


def default_filter(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, also for `null` and "" (what people mean by "no value")."""
    if isinstance(value, Undefined) or value is None or (isinstance(value, str) and value == ""):
        return default_value
    if boolean and not value:
        return default_value
    return value


def _finalize(value: Any) -> Any:
    return "" if value is None else value


class LenientSandbox(Sandbox):
    """The sandbox whose undefined values chain: `a.b.c` on an undefined `a` is `a`."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        # An Undefined is callable, so the sandbox's method check would refuse its
        # attributes; there is nothing behind it to protect.
        if isinstance(obj, Undefined):
            return obj
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Undefined):
            return obj
        return super().getitem(obj, argument)


def lenient_sandbox() -> Sandbox:
    """The send-time environment: the sandbox with chainable undefined values, `None`
    printed as nothing and the `default` filter above."""
    env = LenientSandbox()
    # Set after construction: the sandbox's constructor fixes StrictUndefined, and Jinja
    # reads both attributes when it compiles and runs a template.
    env.undefined = LenientUndefined
    env.finalize = _finalize
    env.filters["default"] = env.filters["d"] = bounded("default", default_filter)
    env.globals[URL_PART] = url_part
    return env


class Renderer:
    """Compiles (with a cache) and renders templates within the configured caps."""

    def __init__(self, *, max_bytes: int = 64 * 1024, max_seconds: float = 0.5) -> None:
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._env = lenient_sandbox()
        self._compile = lru_cache(maxsize=2048)(self._compile_uncached)

    def _compile_uncached(self, source: str, url: bool = False) -> jinja2.Template:
        tree = self._env.bounded_parse(substitute_prismatic(source))
        if url:
            tree = quote_printed_values(tree)
        return self._env.from_string(tree)

    def render(self, source: str, context: dict[str, Any], *, where: str, url: bool = False) -> str:
        """Render one template string; plain text without `{` or `$` is returned as is.
        `url=True`: a URL template, whose printed values are percent-encoded as data."""
        if "{" not in source and "$" not in source:
            return source
        try:
            template = self._compile(source, url)
            return clean_text(self._env.render(
                template, context, max_bytes=self.max_bytes, max_seconds=self.max_seconds
            ))
        except SecretMissing as exc:
            raise SecretMissing(f"{where}: {exc}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{where}: template syntax error: {exc.message} (line {exc.lineno})"
            ) from None
        except jinja2.UndefinedError:
            # Jinja's message may quote a computed name (a slice of a secret); say less.
            raise TemplateError(f"{where}: an undefined value was used in an expression") from None
        except RenderLimit as exc:  # fixed texts about sizes and time
            raise TemplateError(f"{where}: refused: {exc}") from None
        except jinja2.TemplateError:  # SecurityError: may name a computed attribute
            raise TemplateError(f"{where}: refused by the sandbox") from None
        except Exception as exc:  # errors raised by the template's own expressions
            raise TemplateError(f"{where}: {type(exc).__name__} in an expression") from None

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


_MAX_INT_BITS = 13_000  # about 3,900 digits, under Python's int-to-text limit of 4,300


def finite_json(value: Any, path: str = "$") -> tuple[Any, list[str]]:
    """`value` with every non-finite float (inf, -inf, nan) and every integer too long to
    print replaced by None, and the JSON paths replaced: strict JSON has no `Infinity`."""
    if isinstance(value, float) and not math.isfinite(value):
        return None, [path]
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:  # str() refuses it
        return None, [path]
    if isinstance(value, dict):
        out, found, renamed = {}, [], False
        for k, v in value.items():
            if isinstance(k, float):  # json.dumps would print an inf key as Infinity
                k, renamed = str(k), True
            out[k], more = finite_json(v, f"{path}.{k}")
            found += more
        return (out, found) if found or renamed else (value, [])
    if isinstance(value, (list, tuple)):
        items, found = [], []
        for i, v in enumerate(value):
            item, more = finite_json(v, f"{path}[{i}]")
            items.append(item)
            found += more
        return (items, found) if found else (value, [])
    return value, []
