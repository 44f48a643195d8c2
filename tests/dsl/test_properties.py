"""Properties of parse, check and format over generated programs and broken text.

- Every AST built from the language's constructs formats to text that parses back to
  the same AST without diagnostics, and formatting is idempotent.
- Programs built from known events and shared declarations load without errors.
- No text at all (random, token soup, a file of rules/ or tests/dsl/cases/ mutated,
  the stress shapes of tests/dsl/fuzz_inputs.py) makes parse/check/load/fmt raise:
  the only outcome of bad input is diagnostics, and fmt stays idempotent and
  meaning-preserving on whatever parses.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dsl
from dsl import ast as A
from dsl.formatter import format_file
from tests.dsl import strategies as gen
from tests.dsl.fuzz_inputs import TOKENS
from tests.dsl.totality import assert_total, assert_well_formed

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
    assert_well_formed(diagnostics)


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
# Any text: diagnostics, never an exception; fmt idempotent and meaning-preserving
# (the contract of tests/dsl/totality.py). Long runs: bench/fuzz_dsl.py.


def _load_gives_only_diagnostics(text: str) -> None:
    rule_file, syntax = dsl.parse(text, file="fuzz.rules")
    assert_well_formed(syntax)
    assert_well_formed(dsl.check([rule_file]))
    assert_total(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
@example("when")
@example('"""')
@example("\x00")
@example("when a.b where x ~ 1")
@example("when a.b .* over")
@example("when a.b where x == \"\ud800\"")
def test_arbitrary_text_gives_only_diagnostics(text):
    _load_gives_only_diagnostics(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
@example("when x where exists x")
@example("when a.b where not exists x")
@example("when a.b and exists contains")
def test_token_soup_gives_only_diagnostics(text):
    _load_gives_only_diagnostics(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.mutated_corpus())
def test_mutated_rules_and_cases_give_only_diagnostics(text):
    _load_gives_only_diagnostics(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.fuzz_texts())
def test_fuzz_inputs_meet_the_contract(text):
    assert_total(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.rule_files(), st.data())
def test_mutated_generated_files_give_only_diagnostics(rule_file, data):
    text = format_file(rule_file)
    if text:
        pos = data.draw(st.integers(0, len(text)))
        text = text[:pos] + data.draw(st.sampled_from(TOKENS)) + text[pos + data.draw(st.integers(0, 3)):]
    _load_gives_only_diagnostics(text)
