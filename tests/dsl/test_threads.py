"""The front end is re-entrant: parses in several threads at once give exactly what
each gives alone (the parser once kept comments in a module-level list: two threads
parsing at once corrupted 37 of 40 parses)."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import dsl
from dsl.formatter import format_file
from tests.dsl.fuzz_inputs import corpus

THREADS = 6
ROUNDS = 2


def _texts() -> list[str]:
    """Different texts: every corpus file, with comments and with a syntax error each,
    so the fast path and the recovery run side by side."""
    texts = []
    for i, text in enumerate(corpus()):
        commented = "\n".join(f"{line}  # c{i}.{n}" if line.strip() and not line.strip().startswith("#")
                              and not line.rstrip().endswith('"""') else line
                              for n, line in enumerate(text.splitlines()))
        texts += [commented, text + f"\nwhen broken{i}.x where (\n" + text]
    return texts


def _result(text: str, file: str) -> tuple:
    """Everything a parse and a check of `text` say, spans included."""
    rule_file, syntax = dsl.parse(text, file=file)
    return (rule_file.declarations, [(c.text, c.span) for c in rule_file.comments], syntax,
            [d.span for d in syntax], dsl.check([rule_file]), format_file(rule_file))


@pytest.fixture
def fast_switching():
    """Switch threads every few microseconds, so parses interleave as much as they can."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_parses_in_threads_equal_parses_alone(fast_switching):
    texts = _texts()
    files = [f"f{i}.rules" for i in range(len(texts))]
    alone = [_result(text, file) for text, file in zip(texts, files)]
    start = threading.Barrier(THREADS)

    def work(offset: int) -> list[tuple[int, tuple]]:
        start.wait(timeout=30)
        out = []
        for r in range(ROUNDS):
            for k in range(len(texts)):
                i = (k + offset + r) % len(texts)  # each thread in its own order: different texts at once
                out.append((i, _result(texts[i], files[i])))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results = [r for f in [pool.submit(work, t) for t in range(THREADS)] for r in f.result(timeout=600)]
    assert len(results) == THREADS * ROUNDS * len(texts)
    wrong = [i for i, got in results if got != alone[i]]
    assert wrong == [], f"{len(wrong)} of {len(results)} parses differ from the same parse alone"
