"""The Jinja2 sandbox that renders every template: no escapes, bounded work and output.

`ImmutableSandboxedEnvironment` with `StrictUndefined`, tightened further:
- only a short list of side-effect-free methods may be called (`str.lower`, `dict.get`,
  …); `str.format`, `str.replace`, `ljust` and friends are refused;
- operators and filters that can multiply their input (`*`, `**`, `%`, `center`,
  `replace`, `join`, `indent`, `wordwrap`, `format`, `batch`, `slice`) check the size
  of their result before computing it;
- `{% for %}` loops and calls count against a per-render budget with a deadline;
- output is produced in chunks and cut off at the size cap.
A breach raises `RenderLimit`, which `delivery.templates` reports as a `TemplateError`.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2 import filters as jf
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_LOOP_ITERATIONS = 100_000
SAFE_METHODS = {
    str: frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize", "casefold",
        "swapcase", "startswith", "endswith", "split", "rsplit", "splitlines", "find",
        "rfind", "count", "partition", "rpartition", "removeprefix", "removesuffix",
        "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "isnumeric",
    }),
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
    LoopContext: frozenset({"cycle", "changed"}),
}
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class RenderLimit(SecurityError):
    """A template exceeded its output size, time or iteration budget."""


class _Budget:
    __slots__ = ("deadline", "max_bytes", "iterations")

    def __init__(self, max_bytes: int, max_seconds: float) -> None:
        self.deadline = time.monotonic() + max_seconds
        self.max_bytes = max_bytes
        self.iterations = 0

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise RenderLimit(f"template loops ran more than {MAX_LOOP_ITERATIONS} times")
        if time.monotonic() > self.deadline:
            raise RenderLimit("template rendering took too long")

    def size(self, n: int, what: str) -> None:
        if n > self.max_bytes:
            raise RenderLimit(f"{what} would exceed {self.max_bytes} characters")


_local = threading.local()


def budget() -> _Budget:
    """The budget of the render running on this thread (a generous one outside)."""
    return getattr(_local, "budget", None) or _Budget(64 * 1024, 1.0)


class Sandbox(ImmutableSandboxedEnvironment):
    """The tightened environment; `render()` is the only way templates should run."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, cache_size=1000)
        self.globals.pop("lipsum", None)
        self.globals["_tocsin_loop"] = _bounded_iter
        self.filters.update(_CAPPED_FILTERS)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if callable(value):
            return any(isinstance(obj, t) and attr in names for t, names in SAFE_METHODS.items())
        return True

    def wrap_str_format(self, value: Any) -> None:
        # `str.format`/`format_map` take unbounded widths; the `format` filter suffices.
        return None

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        b = budget()
        b.tick()
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, (str, list, tuple)):
                b.size(len(arg), "a call argument")
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        b = budget()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    b.size(len(seq) * max(n, 0), "repetition")
        elif operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 64 and abs(left) > 1:
                raise RenderLimit("exponent too large")
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                b.size(len(left) + len(right), "concatenation")
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, b)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str):
            b.size(len(result), "an expression")
        return result

    def bounded_parse(self, source: str) -> nodes.Template:
        """Parse and route every `{% for %}` through the iteration budget."""
        tree = self.parse(source)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.Name("_tocsin_loop", "load"), [loop.iter], [], None, None,
                lineno=loop.lineno,
            )
        return tree

    def render(self, template, context: dict[str, Any], *, max_bytes: int, max_seconds: float) -> str:
        """Render a compiled template within the size and time caps."""
        b = _Budget(max_bytes, max_seconds)
        _local.budget = b
        try:
            out: list[str] = []
            total = 0
            for chunk in template.generate(context):
                total += len(chunk)
                b.size(total, "the output")
                if time.monotonic() > b.deadline:
                    raise RenderLimit("template rendering took too long")
                out.append(chunk)
            return "".join(out)
        finally:
            _local.budget = None


def _bounded_iter(iterable: Any):
    b = budget()
    for item in iterable:
        b.tick()
        yield item


def _check_percent(fmt: str, b: _Budget) -> None:
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for part in (width, precision):
            if part == "*":
                raise RenderLimit("'*' widths are not allowed in templates")
            if part:
                b.size(int(part), "a format width")


def _center(value: Any, width: int = 80) -> str:
    budget().size(int(width), "center()")
    return jf.do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    pad = len(width) if isinstance(width, str) else int(width)
    budget().size(len(str(s)) + (str(s).count("\n") + 1) * pad, "indent()")
    return jf.do_indent(s, width, first, blank)


def _wordwrap(environment, s: str, width: int = 79, break_long_words: bool = True,
              wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    sep = len(wrapstring) if wrapstring is not None else 1
    budget().size(len(s) + (len(s) // max(int(width), 1) + 1) * sep, "wordwrap()")
    return jf.do_wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)


def _replace(eval_ctx, s: Any, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(s), str(old), str(new)
    hits = len(text) + 1 if old == "" else text.count(old)
    if count is not None:
        hits = min(hits, int(count))
    budget().size(len(text) + hits * max(len(new) - len(old), 0), "replace()")
    return jf.do_replace(eval_ctx, s, old, new, count)


def _join(eval_ctx, value: Any, d: str = "", attribute: Any = None) -> str:
    items = list(value)
    budget().size(sum(len(str(i)) for i in items) + len(items) * len(str(d)), "join()")
    return jf.do_join(eval_ctx, items, d, attribute)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_percent(str(value), budget())
    result = jf.do_format(value, *args, **kwargs)
    budget().size(len(result), "format()")
    return result


def _batch(value: Any, linecount: int, fill_with: Any = None):
    budget().size(int(linecount), "batch()")
    return jf.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None):
    budget().size(int(slices), "slice()")
    return jf.do_slice(value, slices, fill_with)


for _fn, _orig in ((_wordwrap, jf.do_wordwrap), (_replace, jf.do_replace), (_join, jf.do_join)):
    # Keep Jinja's pass_environment / pass_eval_context markers on the wrappers.
    if hasattr(_orig, "jinja_pass_arg"):
        _fn.jinja_pass_arg = _orig.jinja_pass_arg  # type: ignore[attr-defined]

_CAPPED_FILTERS = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "replace": _replace,
    "join": _join, "format": _format, "batch": _batch, "slice": _slice,
}
