"""Golden cases: rule texts in tests/dsl/cases with the diagnostics they must produce.

A case is a `*.rules` file, or a directory of them linted together (cross-file
references). Each file lists what it expects at its end, one per line:

    # expect: E101 9:36          (code, line:column of the diagnostic's start)

Every diagnostic must be expected and every expectation met; a file without
expectations must be clean. Together the cases cover every code in `CODES` except
those that need the environment rules run in (`ENVIRONMENT_CODES`: lint has none; see
tests/dsl/test_template_types.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsl.cli import find_rule_files, lint_sources, read_sources
from dsl.diagnostics import CODES, ENVIRONMENT_CODES

CASES = Path(__file__).parent / "cases"
_EXPECT = re.compile(r"^# expect: ([EW]\d{3}) (\d+):(\d+)\s*$", re.M)


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.suffix == ".rules" or p.is_dir())


def _expected(files: list[str]) -> list[tuple]:
    found = []
    for f in files:
        text = Path(f).read_text(encoding="utf-8")
        found += [(f, code, int(line), int(col)) for code, line, col in _EXPECT.findall(text)]
    return sorted(found)


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_case(case: Path):
    files = find_rule_files([str(case)])
    sources, unreadable = read_sources(files)
    assert not unreadable
    diagnostics = lint_sources(sources)
    got = sorted((d.span.file, d.code, d.span.line, d.span.column) for d in diagnostics)
    assert got == _expected(files)
    for d in diagnostics:
        assert d.severity == ("warning" if d.code.startswith("W") else "error")
        assert d.code in CODES
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column)


def test_cases_cover_every_code():
    files = find_rule_files([str(CASES)])
    covered = {code for _, code, _, _ in _expected(files)}
    # E006 takes a file of over two million characters: tests/dsl/test_total.py has it.
    assert covered == set(CODES) - ENVIRONMENT_CODES - {"E006"}


def test_repository_rules_have_no_errors():
    """The example rule files lint without errors (warnings are allowed)."""
    rules = Path(__file__).parents[2] / "rules"
    sources, _ = read_sources(find_rule_files([str(rules)]))
    assert sources
    errors = [d for d in lint_sources(sources) if d.severity == "error"]
    assert errors == []
