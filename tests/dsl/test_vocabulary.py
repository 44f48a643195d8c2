"""One source of truth: grammar.lark and dsl.catalog define the language, everything else
derives from them, and the docs' tables say the same (docs/contributing.md)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

import dsl
from dsl import ast as A
from dsl import catalog as C
from dsl import grammar
from dsl.transform import ToAst

ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
CLAUSE_TYPES = typing.get_args(A.Clause)


def _section(title: str) -> str:
    start = LANGUAGE.index(title)
    end = LANGUAGE.find("\n#", start + len(title))
    return LANGUAGE[start:end]


def _first_cells(section: str) -> list[str]:
    """The first cell of each row of the tables in `section`, without the header."""
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [row.split(" | ")[0][2:] for row in rows if not row.startswith(("| ---", "| clause", "| operator",
                                                                          "| aggregate", "| variable"))]


# ------------------------------------------------------------------ the grammar


def test_every_clause_node_has_its_grammar_rule_and_transform_and_back():
    rules = grammar.clause_words()
    assert sorted(grammar.rule_of(t) for t in CLAUSE_TYPES) == sorted(rules)
    for rule in rules:
        assert callable(getattr(ToAst, rule, None)), rule


def test_clause_words_are_the_keywords_each_clause_starts_with():
    assert grammar.clause_word(A.KeepFiringClause) == "keep firing for"
    assert grammar.clause_word(A.MuteClause) == "mute during"
    assert grammar.clause_word(A.RunbookClause) == "runbook"
    assert all(words for words in grammar.clause_words().values())
    assert C.REPEATABLE_CLAUSES <= set(grammar.clause_words().values())


def test_the_operators_of_the_grammar_are_those_of_the_precedence_table():
    infix = {words for rule in grammar.lark().rules if rule.origin.name == "_infix"
             for words in [" ".join(grammar.literal_terminals().get(s.name, s.name) for s in rule.expansion)]}
    comparisons = {op for op in C.COMPARISON_OPERATORS if op[0].isalpha()} | {"COMP"}
    assert infix == comparisons | set(C.BINARY_OPERATORS)
    comp = re.compile(grammar.terminal_patterns()["COMP"])
    assert {op for op in C.COMPARISON_OPERATORS if comp.fullmatch(op)} == \
        {op for op in C.COMPARISON_OPERATORS if not op[0].isalpha()}
    prefix = {grammar.literal_terminals()[s.name] for rule in grammar.lark().rules
              if rule.origin.name == "_prefix" for s in rule.expansion}
    assert prefix == set(C.PREFIX_OPERATORS)


def _corpus() -> list[Path]:
    files = sorted((ROOT / "rules").glob("*.rules")) + sorted((ROOT / "tests" / "dsl" / "cases").rglob("*.rules"))
    return [f for f in files if not dsl.parse(f.read_text(encoding="utf-8"), f.name)[1]]


@pytest.fixture(scope="module")
def stock_lark():
    import bench.bench_dsl as bench

    return bench.stock_parser(tree=False)


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_the_lexer_built_from_the_terminals_reads_as_stock_lark_does(path, stock_lark):
    """The front end's lexer and LALR driver against Lark's own contextual lexer and
    parser over the same grammar: the same trees for every file that parses."""
    text = path.read_text(encoding="utf-8")
    assert stock_lark(text, path.name).declarations == dsl.parse(text, path.name)[0].declarations


# --------------------------------------------------------------------- the docs


def test_the_clause_table_lists_the_grammar_s_clauses():
    cells = _first_cells(_section("### 2.2 Clauses"))
    written = [re.sub(r" (?:[A-Z]|\[|info\\|flow\\).*", "", cell.strip("`")) for cell in cells]
    assert written == list(grammar.clause_words().values())


def test_the_docs_name_the_repeatable_clauses():
    sentence = re.search(r"Each clause may appear once \(E402\), except (.*)\.", LANGUAGE).group(1)
    assert set(re.findall(r"`([^`]+)`", sentence)) == {w.split()[0] for w in C.REPEATABLE_CLAUSES}


def test_the_severity_row_lists_the_severities():
    (cell,) = [c for c in _first_cells(_section("### 2.2 Clauses")) if c.startswith("`severity")]
    assert cell.strip("`").split(" ", 1)[1].split("\\|") == list(C.SEVERITIES)


def test_the_aggregate_table_names_every_aggregate():
    cells = " ".join(c for c in _first_cells(LANGUAGE) if "PATTERN" in c)
    assert set(re.findall(r"[a-z0-9]+(?=[ (]|$)", cells.replace("`", " "))) >= set(C.AGGREGATES)


def test_the_operator_table_names_every_operator():
    cells = " ".join(_first_cells(_section("## 3. Conditions")))
    for op in (*C.COMPARISON_OPERATORS, *C.BINARY_OPERATORS, *C.PREFIX_OPERATORS):
        assert op in cells, op


def test_the_template_table_lists_the_catalog_s_fields():
    for variable, fields in C.TEMPLATE_FIELDS.items():
        (row,) = [line for line in LANGUAGE.splitlines() if line.startswith(f"| `{variable}` |")]
        listed = re.findall(r"`([a-z_]+)`", row.split(" | ", 1)[1])
        assert set(fields) <= set(listed), variable


def test_the_hand_kept_terminal_lists_name_every_token_of_the_grammar():
    """A new token in grammar.lark fails here until the transform keeps it and the
    syntax errors have a reader's name for it (docs/contributing.md)."""
    from dsl.syntax_errors import _FRIENDLY
    from dsl.transform import NAMED_TERMINALS

    tokens = set(grammar.terminal_patterns()) - set(grammar.lark().ignore_tokens)
    assert set(NAMED_TERMINALS) == tokens
    assert set(_FRIENDLY) - {"$END"} == tokens


def test_the_e208_row_of_the_diagnostics_lists_the_catalog_s_fields():
    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    (row,) = [line for line in text.splitlines() if line.startswith("| E208 |")]
    for variable, fields in C.TEMPLATE_FIELDS.items():
        listed = re.search(rf"`{variable}` \(`([a-z_ ]+)`\)", row).group(1).split()
        assert listed == list(fields), variable
