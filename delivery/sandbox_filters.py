"""Jinja's filters, each bounded: sizes checked before the work, results measured after.

`bounded_filters(filters)` wraps every filter of an environment: the wrapper checks the
render deadline, runs the filter's own pre-check (below, for filters that take a size
or whose work grows faster than their input) and measures the result with
`Budget.value`. Filters that cannot be bounded cheaply are left out (`urlize`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any


from delivery.limits import Budget, RenderLimit, budget, depth, weight

MAX_INDENT = 16  # `tojson(indent=)`, `pprint`
MAX_ROUND_DIGITS = 400  # floats have at most ~330 significant positions
MAX_WRAP_LINES = 4096
REMOVED = frozenset({"urlize"})
MATERIALIZED = frozenset({"join"})  # filters whose pre-check needs their input as a list  # regex-heavy and useless in plain-text notifications
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_percent(fmt: str, b: Budget) -> None:
    """Refuse `%`-format widths and precisions over the output cap, and `*` widths."""
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for part in (width, precision):
            if part == "*":
                raise RenderLimit("'*' widths are not allowed in templates")
            if part:
                b.size(int(part), "a format width")


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RenderLimit(f"{what} must be a number") from None


# Pre-checks: (budget, the filter's arguments without Jinja's pass argument) -> None.

def _center(b: Budget, value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
    b.size(_int(width, "center() width"), "center()")


def _indent(b: Budget, s: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    pad = len(width) if isinstance(width, str) else _int(width, "indent() width")
    text = str(s)
    b.size(len(text) + (text.count("\n") + 1) * max(pad, 0), "indent()")


def _wordwrap(b: Budget, s: Any, width: Any = 79, break_long_words: Any = True,
              wrapstring: Any = None, *_: Any, **__: Any) -> None:
    text, width = str(s), max(_int(width, "wordwrap() width"), 1)
    lines = len(text) // width + text.count("\n") + 1
    if lines > MAX_WRAP_LINES:
        raise RenderLimit(f"wordwrap() would make more than {MAX_WRAP_LINES} lines")
    sep = len(str(wrapstring)) if wrapstring is not None else 1
    b.size(len(text) + lines * sep, "wordwrap()")


def _replace(b: Budget, s: Any, old: Any, new: Any, count: Any = None, *_: Any, **__: Any) -> None:
    text, old, new = str(s), str(old), str(new)
    hits = len(text) + 1 if old == "" else text.count(old)
    if count is not None:
        hits = min(hits, max(_int(count, "replace() count"), 0))
    b.size(len(text) + hits * max(len(new) - len(old), 0), "replace()")


def _join(b: Budget, value: Any, d: Any = "", *_: Any, **__: Any) -> None:
    # `bounded()` hands join a list (a range or generator is listed first).
    b.size(weight(value, b.max_value) + len(value) * len(str(d)), "join()")


def _format(b: Budget, value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent(str(value), b)
    b.value(list(args) + list(kwargs.values()), "format() arguments")


def _count_arg(what: str) -> Callable[..., None]:
    def check(b: Budget, value: Any, n: Any = 1, *_: Any, **__: Any) -> None:
        b.size(_int(n, f"{what} count"), f"{what}")
    return check


def _round(b: Budget, value: Any, precision: Any = 0, *_: Any, **__: Any) -> None:
    if abs(_int(precision, "round() precision")) > MAX_ROUND_DIGITS:
        raise RenderLimit(f"round() precision over {MAX_ROUND_DIGITS} digits")


def _layout(b: Budget, value: Any, indent: Any) -> None:
    """JSON/pprint text grows with indent x depth per line: bound both."""
    step = len(indent) if isinstance(indent, str) else (_int(indent, "indent") if indent else 0)
    if step > MAX_INDENT:
        raise RenderLimit(f"indent over {MAX_INDENT}")
    w = b.value(value, "the value to print") and weight(value, b.max_value)
    if step and w * (1 + step * depth(value)) > b.max_value:
        raise RenderLimit(f"the indented text would exceed {b.max_value} characters")


def _tojson(b: Budget, value: Any, indent: Any = None, *_: Any, **__: Any) -> None:
    _layout(b, value, indent)


def _pprint(b: Budget, value: Any, *_: Any, **__: Any) -> None:
    _layout(b, value, 1)


def _string(b: Budget, value: Any, *_: Any, **__: Any) -> None:
    b.value(value, "string()")


def _sum(b: Budget, iterable: Any, attribute: Any = None, start: Any = 0, *_: Any, **__: Any) -> None:
    # sum() of lists or strings is quadratic: the filter adds numbers only.
    if not isinstance(start, (int, float)):
        raise RenderLimit("sum() adds numbers only")


def _trim(b: Budget, value: Any, chars: Any = None, *_: Any, **__: Any) -> None:
    if chars is not None:
        b.size(len(str(chars)), "trim() characters")


PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "replace": _replace,
    "join": _join, "format": _format, "batch": _count_arg("batch()"),
    "slice": _count_arg("slice()"), "round": _round, "tojson": _tojson, "pprint": _pprint,
    "string": _string, "sum": _sum, "trim": _trim,
    "truncate": lambda b, s, length=255, *a, **k: None,  # never longer than its input + end
}


def bounded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with the deadline, its pre-check and the result's value caps."""
    check = PRECHECKS.get(name)
    passes = getattr(fn, "jinja_pass_arg", None)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        b = budget()
        b.check_time()
        if name in MATERIALIZED and len(args) > (1 if passes else 0):
            i = 1 if passes else 0  # the filtered value: listed, so its size is known
            if not isinstance(args[i], (list, tuple, str)):
                args = (*args[:i], _listed(args[i], b), *args[i + 1:])
        if check is not None:
            check(b, *(args[1:] if passes else args), **kwargs)
        result = fn(*args, **kwargs)
        b.check_time()
        if isinstance(result, Iterator) and not isinstance(result, str):
            return _counted(result, b, f"{name}()")
        return b.value(result, f"{name}()")

    if passes is not None:
        wrapper.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return wrapper


def _listed(value: Any, b: Budget) -> list[Any]:
    """`value` (a range, a generator, a dict) as a list, measured item by item."""
    items, total = [], 0
    for item in value:
        b.tick()
        total += weight(item, b.max_value)
        if total > b.max_value:
            raise RenderLimit(f"a list would exceed {b.max_value} characters")
        items.append(item)
    return items


def _counted(items: Iterator[Any], b: Budget, what: str) -> Iterator[Any]:
    """A lazy filter's items (`map`, `select`, `batch`, …), measured as they are made."""
    total = 0
    for item in items:
        b.tick()
        total += weight(b.value(item, what), b.max_value)
        if total > b.max_value:
            raise RenderLimit(f"{what} would exceed {b.max_value} characters")
        yield item


def bounded_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter of `filters` bounded; the removed ones left out."""
    return {name: bounded(name, fn) for name, fn in filters.items() if name not in REMOVED}
