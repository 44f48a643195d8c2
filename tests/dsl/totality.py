"""The front end's contract on any text, as one assertion: `assert_total(text)`.

- `dsl.load` (parse, check, build) and `dsl.parse` return well-formed diagnostics,
  never raise; a rule set comes back exactly when there is no error;
- `fmt` formats exactly the texts without syntax errors; what it writes parses back to
  the same declarations with the same comments (meaning kept) and formats to itself
  (idempotent).

Used by the Hypothesis properties (tests/dsl/test_properties.py, test_total.py) and by
the long runs of `bench/fuzz_dsl.py`.
"""

from __future__ import annotations

import time
from typing import Callable

import dsl
from dsl.diagnostics import CODES, Diagnostic, has_errors
from dsl.formatter import format_file


def assert_well_formed(diagnostics: list, text: str | None = None) -> None:
    """Each a `Diagnostic` with a known code and a span inside the text."""
    lines = text.count("\n") + 1 if text is not None else None
    for d in diagnostics:
        assert isinstance(d, Diagnostic), d
        assert d.code in CODES, d
        assert d.severity in ("error", "warning", "info"), d
        assert d.span.line >= 1 and d.span.column >= 1, d
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column), d
        if lines is not None and d.span.file == "fuzz.rules":
            assert d.span.end_line <= lines, (d, lines)


def assert_total(text: str, clock: Callable[[], float] = time.process_time) -> dict[str, float]:
    """Raise AssertionError (saying what broke) unless `text` meets the contract.

    Returns the seconds by `clock` of `dsl.load` (parse, check, build: what the service
    and `tocsin lint` do) and of parse + format (what `format_text` and `tocsin fmt` do)."""
    start = clock()
    ruleset, diagnostics = dsl.load({"fuzz.rules": text})
    load_time = clock() - start
    assert_well_formed(diagnostics, text)
    assert (ruleset is None) == has_errors(diagnostics), "a rule set exactly when there is no error"
    start = clock()  # what `format_text` does, keeping the parsed file to compare with
    rule_file, syntax = dsl.parse(text, file="fuzz.rules")
    formatted = None if has_errors(syntax) else format_file(rule_file)
    fmt_time = clock() - start
    assert_well_formed(syntax, text)
    if formatted is not None:
        assert_formats(rule_file, formatted)
    return {"load": load_time, "fmt": fmt_time}


def assert_formats(rule_file, formatted: str | None = None) -> None:
    """`fmt` of a parsed file keeps its declarations and comments and is idempotent."""
    if formatted is None:
        formatted = format_file(rule_file)
    again, syntax = dsl.parse(formatted, file="fuzz.rules")
    assert syntax == [], ("the formatted text has syntax errors", formatted, syntax)
    assert again.declarations == rule_file.declarations, ("fmt changed the meaning", formatted)
    assert [c.text.rstrip() for c in again.comments] == [c.text.rstrip() for c in rule_file.comments], \
        ("fmt lost or moved comments out of order", formatted)
    assert format_file(again) == formatted, ("fmt is not idempotent", formatted, format_file(again))
