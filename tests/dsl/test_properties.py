"""Properties of parse, check and format over generated programs and broken text.

- Every AST built from the language's constructs formats to text that parses back to
  the same AST without diagnostics, and formatting is idempotent.
- Programs built from known events and shared declarations load without errors.
- No text at all (random, or a valid file mutated) makes parse/check/load raise: the
  only outcome of bad input is diagnostics.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dsl
from dsl import ast as A
from dsl.diagnostics import CODES, Diagnostic
from dsl.formatter import format_file
from tests.dsl import strategies as gen

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = sorted((Path(__file__).resolve().parents[2] / "rules").glob("*.rules"))
EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in RULES]


def _parse_clean(text: str) -> A.RuleFile:
    rule_file, diagnostics = dsl.parse(text, file="gen.rules")
    assert diagnostics == [], (text, [d.to_dict() for d in diagnostics])
    return rule_file


# -------------------------------------------------------------- round trip


@FAST
@given(gen.rule_files())
def test_generated_files_round_trip_through_fmt(rule_file):
    text = format_file(rule_file)
    parsed = _parse_clean(text)
    assert parsed == rule_file, text
    assert format_file(parsed) == text


@FAST
@given(gen.monitors())
def test_generated_monitors_round_trip(monitor):
    text = format_file(A.RuleFile("gen.rules", (monitor,)))
    assert _parse_clean(text).declarations == (monitor,), text


@FAST
@given(gen.expressions())
def test_every_expression_shape_round_trips_in_a_where_clause(expr):
    monitor = A.Monitor(A.EventTrigger(A.Path(("a", "b"))), (A.WhereClause(expr),))
    text = format_file(A.RuleFile("gen.rules", (monitor,)))
    assert _parse_clean(text).declarations == (monitor,), text


@FAST
@given(gen.rule_files(), st.data())
def test_comments_survive_formatting(rule_file, data):
    # Comments on lines of their own before declarations, and after the last one.
    pieces = []
    comments = []
    for decl in rule_file.declarations:
        if data.draw(st.booleans()):
            comment = "# " + data.draw(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                                               max_size=15))
            comments.append(comment.rstrip())
            pieces.append(comment)
        pieces.append(format_file(A.RuleFile("gen.rules", (decl,))).rstrip("\n"))
    pieces.append("# the end")
    comments.append("# the end")
    text = "\n".join(pieces) + "\n"
    parsed = _parse_clean(text)
    assert parsed == rule_file
    assert [c.text.rstrip() for c in parsed.comments] == comments
    once = format_file(parsed)
    twice = format_file(_parse_clean(once))
    assert twice == once
    assert [c.text.rstrip() for c in _parse_clean(once).comments] == comments


@FAST
@given(gen.rule_files())
def test_check_never_raises_on_generated_files(rule_file):
    diagnostics = dsl.check([rule_file])
    _all_diagnostics_well_formed(diagnostics)


@pytest.mark.parametrize("text", ["when a.b where x > 0.00001%", "when a.b every 0.000001s",
                                  "when a.b where x > 12345678901234567890.5"])
def test_tiny_percent_and_duration_round_trip(text):
    parsed = _parse_clean(text)
    assert _parse_clean(format_file(parsed)) == parsed


# --------------------------------------------------- programs that check clean


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.valid_programs())
def test_valid_programs_load_clean(text):
    ruleset, diagnostics = dsl.load({"gen.rules": text})
    assert [d.to_dict() for d in diagnostics] == [], text
    assert ruleset is not None
    parsed = _parse_clean(text)
    formatted = format_file(parsed)
    assert _parse_clean(formatted) == parsed
    ruleset2, diagnostics2 = dsl.load({"gen.rules": formatted})
    assert diagnostics2 == [] and [m.name for m in ruleset2.monitors] == [m.name for m in ruleset.monitors]


# ---------------------------------------------- broken input gives diagnostics


def _all_diagnostics_well_formed(diagnostics: list) -> None:
    for d in diagnostics:
        assert isinstance(d, Diagnostic)
        assert d.code in CODES, d
        assert d.severity in ("error", "warning", "info")
        assert d.span.line >= 1 and d.span.column >= 1
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column), d


def _load_gives_only_diagnostics(text: str) -> None:
    rule_file, syntax = dsl.parse(text, file="fuzz.rules")
    _all_diagnostics_well_formed(syntax)
    _all_diagnostics_well_formed(dsl.check([rule_file]))
    ruleset, diagnostics = dsl.load({"fuzz.rules": text})
    _all_diagnostics_well_formed(diagnostics)
    assert (ruleset is None) == any(d.is_error for d in diagnostics)


TOKENS = st.sampled_from([
    "when ", "monitor ", '"x" ', '"""t""" ', "{ ", "} ", "[ ", "] ", "( ", ") ", ", ", ".", ".*", "%", "-",
    "==", ">= ", "no ", "within ", "over ", "where ", "on flow ", "by ", "notify ", "group ", "via ",
    "without resolved ", "every ", "for ", "keep firing for ", "escalate to ", "after ", "until ",
    "severity ", "message ", "label ", "mute during ", "disabled ", "not ", "in ", "and ", "or ",
    "contains ", "exists ", "matches ", "of ", "count(", "avg(", "execution.failed ", "log.level ",
    "10s ", "1h30m ", "10% ", "-1 ", "3.5 ", "01:00-03:00 ", "true ", ": ", "\n", "# c\n", '"',
    "\\", '"\\q" ', '"\\u12" ', "10sec ", "é ", "webhook ", "url ", "payload ", "{{ secrets.X }} ",
])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
@example("when")
@example('"""')
@example("\x00")
@example("when a.b where x ~ 1")
@example("when a.b .* over")
def test_arbitrary_text_gives_only_diagnostics(text):
    _load_gives_only_diagnostics(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(TOKENS, max_size=30).map("".join))
@example("when x where exists x")
@example("when a.b where not exists x")
@example("when a.b and exists contains")
def test_token_soup_gives_only_diagnostics(text):
    _load_gives_only_diagnostics(text)


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(EXAMPLE_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "swap", "token"]))
        if op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 12)):]
        elif op == "insert":
            text = text[:pos] + draw(st.text(min_size=1, max_size=3)) + text[pos:]
        elif op == "swap":
            other = draw(st.integers(0, len(text)))
            a, b = sorted((pos, other))
            size = min(draw(st.integers(1, 20)), b - a, len(text) - b)
            text = text[:a] + text[b:b + size] + text[a + size:b] + text[a:a + size] + text[b + size:]
        else:
            text = text[:pos] + draw(TOKENS) + text[pos:]
    return text


@settings(max_examples=150, deadline=None)
@given(mutated())
def test_mutated_example_files_give_only_diagnostics(text):
    _load_gives_only_diagnostics(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.rule_files(), st.data())
def test_mutated_generated_files_give_only_diagnostics(rule_file, data):
    text = format_file(rule_file)
    if text:
        pos = data.draw(st.integers(0, len(text)))
        text = text[:pos] + data.draw(TOKENS) + text[pos + data.draw(st.integers(0, 3)):]
    _load_gives_only_diagnostics(text)
