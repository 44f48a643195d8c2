"""The front end is total: every input gives diagnostics, never an exception.

One regression test per root cause once found (deep nesting, huge numbers and
durations, lone surrogates, over-long files, quadratic operator chains, fmt writing
`inf` or needing two runs, recovery losing monitors, keyword hints), each through
`dsl.parse`/`dsl.load`, the formatter and `tocsin lint`/`tocsin fmt`.
"""

from __future__ import annotations

import pytest

import dsl
from dsl import ast as A
from dsl.cli import lint_sources
from dsl.formatter import format_file, format_text
from dsl.limits import MAX_NESTING, MAX_TEXT_CHARS
from dsl.precedence import too_deep
from service.cli import main
from tests.dsl.totality import assert_total


def codes(text: str) -> list[tuple[str, int, int]]:
    """(code, line, column) of every diagnostic of parse + check, in order."""
    _, diagnostics = dsl.load({"t.rules": text})
    return [(d.code, d.span.line, d.span.column) for d in diagnostics]


def only(text: str, code: str) -> dsl.Diagnostic:
    """The one error of `text`, which must have `code`; the contract holds too."""
    assert_total(text)
    _, diagnostics = dsl.load({"t.rules": text})
    errors = [d for d in diagnostics if d.is_error]
    assert [d.code for d in errors] == [code], [d.to_dict() for d in errors]
    return errors[0]


# ------------------------------------------------------------------- nesting

WHERE = "when a.b where "
DEEP = {
    "not": WHERE + "not " * 1000 + "x",
    "minus": WHERE + "x == " + "- " * 1000 + "y",
    "parentheses": WHERE + "(" * 1000 + "x" + ")" * 1000,
    "lists": WHERE + "x in " + "[" * 1000 + "]" * 1000,
    "json": 'webhook "w" { url "https://x.io" payload ' + '{"a": ' * 1000 + "1" + "}" * 1000 + " }",
    "json arrays": 'slack "s" { url "https://x.io" blocks ' + "[" * 1000 + "]" * 1000 + " }",
    "aggregates": "when " + "count(a.b where " * 500 + "x" + ")" * 500 + " > 1 over 5m",
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_nesting_a_thousand_deep_is_e003(text):
    only(text, "E003")


@pytest.mark.parametrize("shape", [
    lambda n: WHERE + "(" * n + "x" + ")" * n,
    lambda n: WHERE + "x in " + "[" * (n - 1) + "]" * (n - 1),  # `in` itself takes a level
    lambda n: 'webhook "w" { url "https://x.io" payload ' + '{"a": ' * (n - 1) + "1" + "}" * (n - 1) + " }",
], ids=["parentheses", "lists", "json"])
def test_nesting_up_to_the_limit_is_fine_and_one_more_is_not(shape):
    assert "E003" not in [c for c, _, _ in codes(shape(MAX_NESTING))]
    assert_total(shape(MAX_NESTING))
    assert "E003" in [c for c, _, _ in codes(shape(MAX_NESTING + 1))]


def test_e003_points_at_the_bracket_past_the_limit():
    d = only(WHERE + "(" * 101 + "x" + ")" * 101, "E003")
    assert (d.span.line, d.span.column) == (1, len(WHERE) + 101)


def test_a_condition_tree_deeper_than_the_limit_is_e003():
    # No bracket at all: a sum of 101 terms nests 100 operators (arithmetic is not rebalanced).
    only("when order.placed where total > " + " + ".join(["1"] * 101), "E003")
    assert_total("when order.placed where total > " + " + ".join(["1"] * 90))


# ------------------------------------------------------------- long chains


@pytest.mark.parametrize("op", ["and", "or"])
def test_twenty_thousand_terms_parse_check_and_format(op):
    text = WHERE + f" {op} ".join(f"x{i} == {i}" for i in range(20_000))
    rule_file, syntax = dsl.parse(text)
    assert syntax == []
    assert [d for d in dsl.check([rule_file]) if d.is_error] == []
    condition = rule_file.monitors[0].clauses[0].condition
    assert too_deep(condition, limit=17) is None  # balanced: log2(20,000) < 15 levels of `op`
    formatted = format_file(rule_file)
    assert formatted.splitlines()[1] == "  where " + f" {op} ".join(f"x{i} == {i}" for i in range(20_000))
    again, _ = dsl.parse(formatted)
    assert again.declarations == rule_file.declarations


def test_brackets_inside_a_chain_are_the_same_chain():
    one, _ = dsl.parse(WHERE + "a and (b and c) and d")
    other, _ = dsl.parse(WHERE + "(a and b) and (c and d)")
    assert one.declarations == other.declarations
    assert format_file(one) == WHERE + "a and b and c and d\n"


def test_mixed_chains_keep_precedence():
    rule_file, _ = dsl.parse(WHERE + "a or b and c or (d or e) and f")
    assert format_file(rule_file) == WHERE + "a or b and c or (d or e) and f\n"


# ----------------------------------------------------------------- numbers


@pytest.mark.parametrize("literal", ["9" * 5000, "1e999", "1e309", "1" + "0" * 400 + ".5", "9" * 401 + "%"])
def test_numbers_out_of_range_are_e004(literal):
    d = only(f"when order.placed where total > {literal}", "E004")
    assert (d.span.line, d.span.column, d.span.end_column) == (1, 33, 33 + len(literal))


@pytest.mark.parametrize("literal", ["1e308", "9" * 308, "-1e308", "0.000001"])
def test_numbers_in_range_are_fine(literal):
    assert codes(f"when order.placed where total > {literal}") == []
    assert_total(f"when order.placed where total > {literal}")


def test_a_number_in_a_json_payload_out_of_range_is_e004():
    only('webhook "w" { url "https://x.io" payload {"n": ' + "9" * 5000 + "} }", "E004")


def test_fmt_never_writes_inf():
    formatted, diagnostics = format_text("when a.b where n > 1e999")
    assert formatted is None and [d.code for d in diagnostics] == ["E004"]
    formatted, diagnostics = format_text("when a.b where n > 1.7e308")
    assert "inf" not in formatted and diagnostics == []
    assert dsl.parse(formatted)[0] == dsl.parse("when a.b where n > 1.7e308")[0]


# --------------------------------------------------------------- durations


@pytest.mark.parametrize("text", [
    "when a.b every " + "9" * 400 + "d",
    "when a.b every 3651d",
    "when a.b every 3650d1s",
    "when a.b where execution.duration > -3651d",
    "when no a.b within 99999999999999999999h",
])
def test_durations_beyond_ten_years_are_e005(text):
    only(text, "E005")


def test_ten_years_is_a_duration():
    assert codes("when a.b every 3650d") == []


# -------------------------------------------------------------- surrogates


@pytest.mark.parametrize("text, column", [
    ('when a.b where x == "\\uD800"', 21),
    ('when a.b where x matches "a\\udfffb"', 26),
    ('monitor "\\uD800" when a.b', 9),
    ('when a.b message "\\uDE00\\uD83D"', 18),  # reversed halves: two lone surrogates
    ('webhook "w" { url "https://x.io" payload {"\\uDBFF": 1} }', 43),
])
def test_escaped_lone_surrogates_are_e002(text, column):
    _, diagnostics = dsl.load({"t.rules": text})
    assert {(d.code, d.span.column) for d in diagnostics if d.is_error} == {("E002", column)}
    assert_total(text)


def test_escaped_surrogate_pair_is_one_character():
    (m,) = dsl.parse('monitor "\\uD83D\\uDE00 \\\\uD800" when a.b')[0].monitors
    assert m.name.value == "😀 \\uD800"


def test_raw_lone_surrogates_are_e001_where_they_stand():
    text = 'when a.b\nwhen c.d where x == "ab\ud800"\n  \udc00when e.f\n'
    rule_file, diagnostics = dsl.parse(text)
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [("E001", 2, 24), ("E001", 3, 3)]
    assert [m.trigger.pattern.dotted for m in rule_file.monitors] == ["a.b", "c.d", "e.f"]
    assert "\ud800" not in repr(rule_file)
    assert_total(text)


# -------------------------------------------------------------- text size


def test_a_file_over_the_size_limit_is_e006():
    text = "#" * (MAX_TEXT_CHARS + 1)
    d = only(text, "E006")
    assert (d.span.line, d.span.column) == (1, 1)
    assert format_text(text)[0] is None
    assert dsl.parse("#" * MAX_TEXT_CHARS)[1] == []


# --------------------------------------------------------------------- fmt


@pytest.mark.parametrize("text", [
    'when no a.b within 5m on flow "x"',
    'monitor "n" when count(a.b where x == 1) > 5 and count(c.d) < 3 over 5m by flow notify group "g"',
    "when a.b where x == [1, 2] and y > 3 until c.d where z == 1",
])
def test_a_comment_anywhere_in_a_monitor_settles_in_one_fmt_run(text):
    for i, ch in enumerate(text):
        if ch == " ":
            commented = text[:i] + " # c\n" + text[i + 1:]
            assert_total(commented)


# ---------------------------------------------------------------- recovery

SLACK = 'slack "ops" { url "https://hooks.slack.com/x" }\n'


def test_a_syntax_error_keeps_the_monitor_before_it_and_its_problems():
    text = (SLACK
            + 'monitor "a" when execution.failed notify slack "ops" severity info severity error\n'
            + 'whn execution.completed notify slack "ops"\n'
            + 'monitor "c" when execution.started notify slack "ops"\n')
    rule_file, _ = dsl.parse(text)
    assert [m.name.value for m in rule_file.monitors] == ["a", "c"]
    assert codes(text) == [("E402", 2, 68), ("E001", 3, 1)]  # no W501 for "ops"


def test_whn_suggests_when():
    for text in ['whn execution.completed notify slack "ops"\n',
                 SLACK + 'when a.b notify slack "ops"\nwhn execution.completed notify slack "ops"\n']:
        (d,) = [d for d in dsl.parse(text)[1]]
        assert d.hint == "did you mean `when`?", d
        assert d.span.column == 1


@pytest.mark.parametrize("text, hint", [
    ('when a.b wher x == 1', "did you mean `where`?"),
    ('when a.b notify group "g" severty info', "did you mean `severity`?"),
    ("when a.b where x == 1 adn y == 2", "did you mean `and`?"),
    ('monitor "x" whn a.b', "did you mean `when`?"),
])
def test_a_misspelt_keyword_gets_the_nearest_one_the_parser_expected_there(text, hint):
    (d,) = dsl.parse(text)[1]
    assert d.hint == hint, d


def test_an_unclosed_bracket_hides_no_monitor_after_it():
    text = "when a.b where (x == 1\nwhen c.d\nmonitor \"m\" when e.f where [1, (2\nwhen g.h\n"
    rule_file, diagnostics = dsl.parse(text)
    assert [m.trigger.pattern.dotted for m in rule_file.monitors] == ["c.d", "g.h"]
    assert [(d.span.line, d.message) for d in diagnostics] == [
        (1, "incomplete declaration; expected `)`"), (3, "incomplete declaration; expected `)`")]


def test_an_unclosed_triple_quote_hides_no_monitor_after_it():
    rule_file, diagnostics = dsl.parse('when a.b message """never\nwhen c.d\nwhen e.f\n')
    assert [m.trigger.pattern.dotted for m in rule_file.monitors] == ["c.d", "e.f"]
    assert [d.code for d in diagnostics] == ["E001"]


def test_recovery_is_linear_in_the_number_of_broken_declarations():
    text = "when a.b severity\n" * 5000 + "when c.d\n"
    rule_file, diagnostics = dsl.parse(text)
    assert len(diagnostics) == 5000 and len(rule_file.monitors) == 1


# ------------------------------------------------------- tocsin lint and fmt

ROOT_CAUSES = list(DEEP.values()) + [
    "when a.b where x > " + "9" * 5000, "when a.b every " + "9" * 400 + "d", 'monitor "\\uD800" when a.b',
    "when a.b where n > 1e999",
]


@pytest.mark.parametrize("text", ROOT_CAUSES)
def test_lint_and_fmt_report_every_root_cause_without_a_traceback(tmp_path, capsys, text):
    path = tmp_path / "bad.rules"
    path.write_text(text, encoding="utf-8")
    assert main(["lint", str(path)]) == 1
    assert main(["lint", "--format", "json", str(path)]) == 1
    assert main(["fmt", "--check", str(path)]) == 1
    assert main(["fmt", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert " error E00" in out and "not formatted" in err
    assert path.read_text(encoding="utf-8") == text


def test_lint_sources_checks_every_file_even_with_one_over_the_limit():
    diagnostics = lint_sources({"big.rules": "#" * (MAX_TEXT_CHARS + 1), "ok.rules": "when a.b where x ==\n"})
    assert [(d.span.file, d.code) for d in diagnostics] == [("big.rules", "E006"), ("ok.rules", "E001")]


def test_check_of_hand_built_deep_trees_is_not_the_parsers_concern():
    # The limit protects what the parser returns; trees built in code are the caller's.
    shallow = A.Monitor(A.EventTrigger(A.Path(("a", "b"))), ())
    assert dsl.check([A.RuleFile("x.rules", (shallow,))]) == []


def test_fmt_of_a_file_it_cannot_write_says_so(tmp_path, capsys, monkeypatch):
    import builtins

    import dsl.cli

    def no_writing(file, mode="r", *args, **kwargs):
        if "w" in mode:
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, mode, *args, **kwargs)

    monkeypatch.setattr(dsl.cli, "open", no_writing, raising=False)
    path = tmp_path / "ro.rules"
    path.write_text("when   a.b\n", encoding="utf-8")
    assert main(["fmt", str(path)]) == 1
    out, err = capsys.readouterr()
    assert f"{path}: not formatted: Permission denied" in err and "Traceback" not in out + err
