"""Long fuzz runs of the language front end: N random inputs, every one must meet the
contract of `tests/dsl/totality.py` (diagnostics, never an exception; `fmt` idempotent
and meaning-preserving), and both `dsl.load` (parse, check, build) and `fmt` must
each take at most 1 s of CPU per 100 KB of text (at least 0.1 s, for small inputs).

Inputs come from `tests/dsl/fuzz_inputs.py` (mutated rules/ and tests/dsl/cases/ files,
shuffled lines, token soup, raw text, stress shapes), seeded, so a run can be
repeated. With `--engine`, each rule set that loads is also compiled by the engine
(`engine.Engine`), as the service does on validation. Prints progress, then the count,
the failures and the time per input; every failing input is written to `--save` and
the exit status is 1 on any failure.

    python bench/fuzz_dsl.py [--inputs N] [--seed S] [--save DIR] [--engine]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.dsl.fuzz_inputs import fuzz_text  # noqa: E402
from tests.dsl.totality import assert_total  # noqa: E402

FLOOR_SECONDS = 0.1
SECONDS_PER_100KB = 1.0


def budget(text: str) -> float:
    """CPU seconds an input may take."""
    return max(FLOOR_SECONDS, SECONDS_PER_100KB * len(text.encode("utf-8", "surrogatepass")) / 100_000)


def compile_with_engine(text: str) -> None:
    import dsl
    from engine import Engine

    ruleset, _ = dsl.load({"fuzz.rules": text})
    if ruleset is not None:
        Engine(ruleset, now=datetime.now(timezone.utc))


def run_one(text: str, engine: bool) -> tuple[str | None, float]:
    """(what failed or None, CPU seconds of the slower of load and fmt)."""
    try:
        times = assert_total(text)
        if engine:
            compile_with_engine(text)
    except Exception:  # noqa: BLE001 - any exception at all is the finding
        return traceback.format_exc(limit=8), 0.0
    spent = max(times.values())
    if spent > budget(text):
        stage = max(times, key=times.get)
        return (f"slow: {stage} took {spent:.3f} s CPU for {len(text):,} characters "
                f"(budget {budget(text):.3f} s)"), spent
    return None, spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", default="fuzz-failures", help="directory for failing inputs")
    parser.add_argument("--engine", action="store_true", help="also compile loaded rule sets with the engine")
    parser.add_argument("--every", type=int, default=10_000, help="progress line every N inputs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    assert_total(fuzz_text(random.Random(-1)))  # warm up: first use builds the parser and caches
    failures = 0
    total_cpu = worst_per_kb = 0.0
    total_chars = 0
    began = time.perf_counter()
    for i in range(1, args.inputs + 1):
        text = fuzz_text(rng)
        problem, spent = run_one(text, args.engine)
        total_cpu += spent
        total_chars += len(text)
        worst_per_kb = max(worst_per_kb, spent / max(1, len(text)) * 1000)
        if problem is not None:
            failures += 1
            os.makedirs(args.save, exist_ok=True)
            path = Path(args.save) / f"seed{args.seed}-input{i}.rules"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            print(f"FAILURE at input {i} (saved to {path}):\n{problem}", flush=True)
        if i % args.every == 0:
            print(f"{i:,} inputs, {failures} failures, {total_cpu / i * 1000:.2f} ms CPU per input, "
                  f"{time.perf_counter() - began:,.0f} s wall", flush=True)
    count = args.inputs
    print(f"done: {count:,} inputs (seed {args.seed}), {failures} failures; "
          f"{total_cpu / max(1, count) * 1000:.2f} ms CPU per input on average, "
          f"{total_chars / max(1, count):,.0f} characters per input, worst {worst_per_kb:.2f} ms CPU per KB; "
          f"{time.perf_counter() - began:,.0f} s wall")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
