"""The grammar, compiled once: Lark's LALR tables and terminals, our table and lexer.

Everything here is built on first use and never changed after, so one copy serves
every parse in every thread. Parse state lives in `dsl.parser`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from lark import Lark

from dsl.lalr import Table
from dsl.lexer import TocsinLexer


@lru_cache(maxsize=1)
def lark() -> Lark:
    """grammar.lark as Lark compiles it (tables, terminals, rules); never used to parse."""
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer=TocsinLexer,
        keep_all_tokens=True,
        maybe_placeholders=False,
        cache=False,
    )


@lru_cache(maxsize=1)
def front() -> tuple[Table, TocsinLexer]:
    """The parse table and the lexer shared by every parse."""
    compiled = lark()
    return Table(compiled), TocsinLexer(compiled.lexer_conf)


@lru_cache(maxsize=1)
def keywords() -> dict[str, str]:
    """Terminal name -> keyword, for the grammar's word terminals (`WHEN` -> `when`)."""
    return {t.name: t.pattern.value for t in lark().terminals
            if t.pattern.type == "str" and t.pattern.value.isalpha()}


@lru_cache(maxsize=1)
def literal_terminals() -> dict[str, str]:
    """Terminal name -> its text, for every terminal that is a fixed string (`LPAR` -> `(`)."""
    return {t.name: t.pattern.value for t in lark().terminals if t.pattern.type == "str"}


@lru_cache(maxsize=1)
def terminal_patterns() -> dict[str, str]:
    """Terminal name -> its regular expression, for the grammar's named terminals
    (`IDENT`, `STRING`, `DURATION`, …): the lexer and the recovery tokenizer use these."""
    return {t.name: t.pattern.to_regexp() for t in lark().terminals if t.pattern.type == "re"}


@lru_cache(maxsize=1)
def clause_words() -> dict[str, str]:
    """Clause rule -> the keywords it starts with, in grammar order
    (`keep_firing_clause` -> `keep firing for`). A clause rule is a rule named `*_clause`."""
    words = keywords()
    out: dict[str, str] = {}
    for rule in lark().rules:
        name = rule.origin.name
        if not name.endswith("_clause") or name in out:
            continue
        lead = []
        for symbol in rule.expansion:
            if symbol.name not in words:
                break
            lead.append(words[symbol.name])
        out[name] = " ".join(lead)
    return out


def rule_of(node_type: type) -> str:
    """The grammar rule an AST class is built from, by name: `KeepFiringClause` -> `keep_firing_clause`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", node_type.__name__).lower()


@lru_cache(maxsize=None)
def clause_word(node_type: type) -> str:
    """The keywords a clause of this AST class starts with (`A.MuteClause` -> `mute during`)."""
    return clause_words()[rule_of(node_type)]
