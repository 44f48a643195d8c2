"""The grammar, compiled once: Lark's LALR tables and terminals, our table and lexer.

Everything here is built on first use and never changed after, so one copy serves
every parse in every thread. Parse state lives in `dsl.parser`.
"""

from __future__ import annotations

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
