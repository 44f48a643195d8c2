"""The budget of one render, and the cost model that keeps every step of it cheap.

The render deadline is checked between steps (loop iterations, calls, filters,
operators, outputs), so it holds only if no single step can run long. A step's cost is
bounded by the size of what it makes, so every value a template makes is measured
before or right after it is made:

- `weight(value)` is about the length of the value's text (`str()`/JSON): characters
  of strings, digits of integers, the sum over the items of a list or dict *as printed*
  (a list holding the same big list twice weighs twice; that is what printing,
  comparing or serialising it costs). It stops counting past the limit, so measuring
  is itself bounded.
- A value a template makes may weigh at most `max_value` (4 x the output cap).
- An integer may have at most `MAX_INT_BITS` bits; `a ** b` and `a * b` are checked
  from the operands' sizes before they are computed.
- Everything a render prints, into its output or into a captured block (`{% set %}`,
  macros, `{% filter %}`), counts against `max_value` too.

With these bounds the longest single step measured (sorting or printing a value at the
cap, `wordwrap` at its cap) takes a few milliseconds, and a worker thread that renders
a hostile template gives the GIL back every few milliseconds: the API's event loop and
the other workers keep running (tests/service/test_hostile_template.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from jinja2.sandbox import SecurityError

MAX_LOOP_ITERATIONS = 100_000
MAX_INT_BITS = 4096  # about 1,233 digits, well under Python's int-to-text limit (4,300)
VALUE_FACTOR = 4  # max_value (a made value, all printed text), as a multiple of the output cap
_SCALAR_WEIGHT = 16  # objects whose text is short: None, floats, dates, Undefined, ...


class RenderLimit(SecurityError):
    """A template exceeded its output size, time, iteration or value budget."""


class Budget:
    """The caps and the running counts of one render (one thread renders at a time)."""

    __slots__ = ("deadline", "max_bytes", "max_value", "iterations", "produced", "secrets_read")

    def __init__(self, max_bytes: int, max_seconds: float) -> None:
        self.deadline = time.monotonic() + max_seconds
        self.max_bytes = max_bytes
        self.max_value = max_bytes * VALUE_FACTOR
        self.iterations = 0
        self.produced = 0
        self.secrets_read: set[str] = set()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimit("template rendering took too long")

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise RenderLimit(f"template loops ran more than {MAX_LOOP_ITERATIONS} times")
        self.check_time()

    def size(self, n: int, what: str) -> None:
        if n > self.max_bytes:
            raise RenderLimit(f"{what} would exceed {self.max_bytes} characters")

    def value(self, value: Any, what: str) -> Any:
        """`value` if it is within the value caps (weight, integer size); else refuse."""
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > MAX_INT_BITS:
                raise RenderLimit(f"{what} would be an integer over {MAX_INT_BITS} bits")
        elif isinstance(value, (str, list, tuple, dict, set, frozenset)):
            if weight(value, self.max_value) > self.max_value:
                raise RenderLimit(f"{what} would exceed {self.max_value} characters")
        return value

    def produce(self, n: int) -> None:
        """Count `n` printed characters (outputs and captured blocks alike)."""
        self.produced += n
        if self.produced > self.max_value:
            raise RenderLimit(f"the template printed more than {self.max_value} characters")


_local = threading.local()


def budget() -> Budget:
    """The budget of the render running on this thread (a generous one outside)."""
    return getattr(_local, "budget", None) or Budget(64 * 1024, 1.0)


def current() -> Budget | None:
    """The budget of the render running on this thread, None outside a render."""
    return getattr(_local, "budget", None)


def start(b: Budget) -> None:
    _local.budget = b


def stop() -> None:
    _local.budget = None


def weight(value: Any, limit: int) -> int:
    """About the length of `value` printed; counting stops once past `limit`."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, bool) or v is None:
            total += 5
        elif isinstance(v, int):
            total += v.bit_length() * 3 // 10 + 2
        elif isinstance(v, dict):
            total += 2 + 4 * len(v)
            if total > limit:
                return total
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(v)
            if total > limit:
                return total
            stack.extend(v)
        else:
            total += _SCALAR_WEIGHT
        if total > limit:
            return total
    return total


def depth(value: Any, limit: int = 64) -> int:
    """The nesting depth of lists and dicts in `value`, counting stops past `limit`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            items = list(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            items = list(v)
        else:
            continue
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        stack.extend((i, d + 1) for i in items)
    return deepest
