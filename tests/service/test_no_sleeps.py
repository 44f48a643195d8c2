"""No service test sleeps to let work happen: sleeps of 0.1 s or more are refused.

A test waits on a condition with a deadline (tests/support/waiting.py), on the evaluator
(`Evaluator.join`, `step()`) or on a ManualClock it advances. Short pauses between polls
of such a wait are fine; a sleep whose length is not a literal cannot be told apart and
is refused too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIMIT = 0.1
HERE = Path(__file__).parent


def long_sleeps(source: str) -> list[int]:
    """Lines of `source` calling `sleep(...)` (any module's) for LIMIT or more, or for a
    length that is not a number literal."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name != "sleep":
            continue
        length = node.args[0] if node.args else None
        if not (isinstance(length, ast.Constant) and isinstance(length.value, int | float)) \
                or length.value >= LIMIT:
            lines.append(node.lineno)
    return sorted(lines)


def test_the_scan_finds_long_and_unknown_sleeps():
    source = ("import asyncio, time\n"
              "async def f(n):\n"
              "    await asyncio.sleep(0)\n"
              "    await asyncio.sleep(0.05)\n"
              "    await asyncio.sleep(1.0)\n"
              "    time.sleep(0.1)\n"
              "    time.sleep(n)\n")
    assert long_sleeps(source) == [5, 6, 7]


@pytest.mark.parametrize("path", sorted(HERE.glob("*.py")), ids=lambda p: p.name)
def test_no_service_test_sleeps_to_let_work_happen(path: Path):
    assert long_sleeps(path.read_text()) == [], f"{path.name}: wait on a condition, not on the clock"
