"""Random rule texts for fuzzing the front end.

Families: mutations of every file in rules/ and tests/dsl/cases/ (the corpus), lines
of the corpus shuffled, token soup, raw text, and stress shapes (nesting around the
limit, long operator chains, huge literals, odd code points, many declarations).
Every generator takes a `random.Random`, so the same code serves Hypothesis
(`strategies.fuzz_texts()`, through `st.randoms()`) and the long seeded runs of
`bench/fuzz_dsl.py`.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

from dsl import grammar
from dsl.limits import MAX_NESTING

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def corpus() -> tuple[str, ...]:
    """The texts of rules/*.rules and tests/dsl/cases/**/*.rules, sorted by path."""
    paths = sorted((ROOT / "rules").glob("*.rules")) + sorted((ROOT / "tests" / "dsl" / "cases").rglob("*.rules"))
    return tuple(p.read_text(encoding="utf-8") for p in paths)


# The grammar's words, clause keywords and punctuation (dsl.grammar), then literals,
# near misses and odd text the grammar cannot list.
TOKENS = (
    *(f"{words} " for words in grammar.clause_words().values()),
    *(f"{word} " for word in sorted(grammar.keywords().values())),
    *(f"{text} " for text in sorted(set(grammar.literal_terminals().values()) - set(grammar.keywords().values()))),
    '"x" ', '"""t""" ', ".", ".*", "%", "==", ">= ", "on flow ", "group ", "count(", "avg(",
    "execution.failed ", "log.level ",
    "10s ", "1h30m ", "10% ", "-1 ", "3.5 ", "01:00-03:00 ", ": ", "\n", "# c\n", '"',
    "\\", '"\\q" ', '"\\u12" ', "10sec ", "é ", "webhook ", "url ", "payload ", "{{ secrets.X }} ",
    "whn ", "notfy ", "severty ", "1e999 ", "1e308 ", "3650d ", "3651d ", "0.5ms ", '"\\uD800" ',
    '"\\uDC00\\uD800" ', '"\\uD83D\\uDE00" ', "\ud800", "\x00", "\u2028", "\ufeff", "😀 ", "\t", "\r\n",
)
ODD_CHARS = ("\ud800", "\udfff", "\x00", "\x7f", "\u2028", "\ufeff", "é", "😀", "\\", '"', "#", "\n", "{", "(")


def mutate(rng: random.Random, text: str, rounds: int | None = None) -> str:
    """`text` with 1-6 random edits: deletions, insertions, swaps, tokens, copies."""
    for _ in range(rounds if rounds is not None else rng.randint(1, 6)):
        pos = rng.randint(0, len(text))
        op = rng.randrange(6)
        if op == 0:
            text = text[:pos] + text[pos + rng.randint(1, 12):]
        elif op == 1:
            text = text[:pos] + "".join(rng.choice(ODD_CHARS) for _ in range(rng.randint(1, 3))) + text[pos:]
        elif op == 2:
            other = rng.randint(0, len(text))
            a, b = sorted((pos, other))
            size = min(rng.randint(1, 20), b - a, len(text) - b)
            text = text[:a] + text[b:b + size] + text[a + size:b] + text[a:a + size] + text[b + size:]
        elif op == 3:
            text = text[:pos] + rng.choice(TOKENS) + text[pos:]
        elif op == 4:
            end = min(len(text), pos + rng.randint(1, 80))
            text = text[:end] + text[pos:end] + text[end:]
        else:
            text = text[:pos] + text[pos + 1:pos + rng.randint(2, 30)][::-1] + text[pos + 1:]
    return text


def line_soup(rng: random.Random) -> str:
    """Lines of the corpus in a random order: declarations cut and joined anew."""
    lines = [line for text in corpus() for line in text.splitlines()]
    return "\n".join(rng.choice(lines) for _ in range(rng.randint(1, 40))) + "\n"


def token_soup(rng: random.Random) -> str:
    return "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 40)))


def raw_text(rng: random.Random) -> str:
    alphabet = "abcwhen .\"{}[]()#\n-_:%0123456789\\" + "".join(ODD_CHARS)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))


def _nested(rng: random.Random, depth: int) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "when a.b where " + "(" * depth + "x == 1" + ")" * depth
    if kind == 1:
        return "when a.b where " + rng.choice(["not ", "- ", "not -"]) * depth + "x"
    if kind == 2:
        return "when a.b where x in " + "[" * depth + "1" + "]" * depth
    if kind == 3:
        return 'webhook "w" { url "https://x.io" payload ' + '{"a": ' * depth + "1" + "}" * depth + " }"
    return "when a.b where x == " + " + ".join(["1"] * depth)


def _chain(rng: random.Random, terms: int) -> str:
    op = rng.choice([" and ", " or ", " + ", " * "])
    if op in (" and ", " or "):
        return "when a.b where " + op.join(f"x{i} == {i}" for i in range(terms))
    return "when a.b where x > " + op.join(str(i) for i in range(terms))


def stress(rng: random.Random) -> str:
    """One of the shapes that once broke the front end, near and past its limits."""
    kind = rng.randrange(6)
    if kind == 0:
        return _nested(rng, rng.choice([MAX_NESTING - 2, MAX_NESTING, MAX_NESTING + 1, rng.randint(1, 400)]))
    if kind == 1:
        return _chain(rng, rng.choice([rng.randint(2, 300), rng.randint(300, 5000)]))
    if kind == 2:
        digits = rng.choice([300, 309, 310, 400, 401, 5000])
        literal = rng.choice(["9" * digits, "1" + "0" * digits + ".5", f"1e{digits}", f"{'9' * digits}d",
                              f"{'9' * digits}%", f"0.{'0' * digits}1"])
        return f"when a.b where x > {literal} every {rng.choice(['3650d', '3651d', '1h'])}"
    if kind == 3:
        body = "".join(rng.choice(ODD_CHARS + ("a", " ", "\\u", "\\uD83D", "\\uDE00")) for _ in range(200))
        return f'monitor "{body}" when a.b message "{body}"'
    if kind == 4:
        return 'when a.b message "' + "x" * rng.randint(1000, 50_000) + '"'
    base = rng.choice(corpus())
    return mutate(rng, base * rng.randint(2, 20), rounds=rng.randint(1, 3))


def excerpt(rng: random.Random) -> str:
    """A whole corpus file, or (more often: cheaper to check) a run of its declarations."""
    text = rng.choice(corpus())
    if rng.random() < 0.25:
        return text
    parts = text.split("\n\n")
    first = rng.randrange(len(parts))
    return "\n\n".join(parts[first:first + rng.randint(1, 4)])


def fuzz_text(rng: random.Random) -> str:
    """One input from any family, weighted towards mutated corpus files."""
    family = rng.random()
    if family < 0.55:
        return mutate(rng, excerpt(rng))
    if family < 0.7:
        return token_soup(rng)
    if family < 0.8:
        return raw_text(rng)
    if family < 0.9:
        return line_soup(rng)
    return stress(rng)
