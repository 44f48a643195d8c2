"""Throughput of the monitor language front end: parse, check and format.

Generates 10,000 realistic monitors (every trigger form, typical clauses, 1-3 lines
each) spread over 20 files plus one file of the channels, groups and schedules they
reference, then prints monitors per second for

- parse alone,
- parse + check (`dsl.parse` per file, then `dsl.check` over all files),
- parse + check + format (`dsl.formatter.format_file` per file),

each the median of 5 runs, pinned to one CPU core where the OS allows it; the rate is
shown by wall clock and by the process's CPU time (they differ when the machine is busy).

Then a size sweep shows that time is linear in the input: one monitor whose `where`
is a chain of 1,000 to 64,000 terms (`and`, then `or`, then `+` inside a list), with
CPU microseconds per term for parse, check and format at each size; a flat column is
linear (the chains were quadratic: 2,000 terms 0.25 s, 4,000 1.17 s).

`--machinery stock` (or `stock-tree`) measures the alternative of issue 10 on the same
corpus: stock Lark LALR with its contextual lexer (`cache=True`) and the same `ToAst`
callbacks inline (or a parse tree then `ToAst().transform`), the same checker after;
docs/performance.md § Parser machinery has the figures and the decision.

    python bench/bench_dsl.py [--monitors N] [--runs R] [--sweep-only | --no-sweep]
                              [--machinery custom|stock|stock-tree] [--count baseline|parse-check]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dsl  # noqa: E402
from dsl.formatter import format_file  # noqa: E402

FILES = 20

SHARED = '''\
webhook "PagerDuty" {
  url "https://events.pagerduty.com/v2/enqueue"
  timeout 5s
  payload {
    "routing_key": "{{ secrets.PD_ROUTING_KEY }}",
    "event_action": "trigger",
    "links": [{ "href": "$URL", "text": "Alert" }],
    "payload": { "summary": "$NAME triggered - $INSTANCE failed to run.", "severity": "error", "source": "$SUBJECT" }
  }
}
webhook "Analytics" {
  url "https://analytics.example.com/hooks/alert"
  header "Authorization" "Bearer {{ secrets.ANALYTICS_TOKEN }}"
  payload { "alert": "{{ monitor.name }}", "value": "{{ alert.value }}" }
}
slack "ops" { url "{{ secrets.SLACK_OPS_WEBHOOK }}" }
slack "security" { url "{{ secrets.SLACK_SECURITY_WEBHOOK }}" }
pagerduty "core" { routing_key "{{ secrets.PD_ROUTING_KEY }}" }
group "DevOps" {
  email "ana@example.com", "bo@example.com"
  sms "+14155550100"
  webhook "PagerDuty"
  slack "ops"
}
group "Leads" { email "lead@example.com" pagerduty "core" }
group "Security" { email "security@example.com" slack "security" }
schedule "maintenance" { days sat, sun  hours 01:00-03:00  timezone "Europe/Berlin" }
'''

FLOWS = ["Sync", "Import Orders", "Nightly Export", "Invoices", "Contacts", "Webhooks In", "Billing"]
CUSTOMERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark"]
DURATIONS = ["30s", "1m", "5m", "10m", "15m", "30m", "1h", "1h30m", "2h"]
NOTIFY = [
    'notify group "DevOps"', 'notify slack "ops"', 'notify group "DevOps" via email',
    'notify webhook "PagerDuty"', 'notify pagerduty "core"', 'notify group "Security"',
    'notify group "DevOps" via email, sms', 'notify webhook "Analytics"',
    'notify email "oncall@example.com"',
]


def _trigger(rng: random.Random) -> str:
    flow, customer, d = rng.choice(FLOWS), rng.choice(CUSTOMERS), rng.choice(DURATIONS)
    return rng.choice([
        f'when execution.failed on flow "{flow}"',
        f'when execution.failed where step == "Fetch" and message contains "timeout" on customer "{customer}"',
        f'when execution.completed on flow "{flow}" on customer "{customer}"',
        f'when execution.started on flow "{flow}"',
        f'when execution.retry_pending where execution.attempt >= {rng.randint(2, 5)}',
        f'when execution.duration >= {d} on flow "{flow}"',
        f'when no execution.completed within {d} on flow "{flow}"',
        f'when instance.{rng.choice(["enabled", "disabled", "removed"])} on customer "{customer}"',
        f'when log.level >= {rng.choice(["warn", "error"])} on flow "{flow}"',
        'when connection.error where connection.error matches "(?i)token|401|expired"',
        f'when count(customer.login_failed) > {rng.randint(20, 500)} over {d} by login_location',
        f'when count(execution.failed) / count(execution.*) > {rng.randint(1, 30)}% '
        f'and count(execution.*) >= 20 over 1h by flow',
        f'when avg(duration of execution.completed) > {d} over 15m by instance',
        f'when p95(duration of execution.completed where flow == "{flow}") > {d} over 1h',
        f'when distinct(ip of customer.login_failed) >= {rng.randint(10, 90)} over 10m',
        f'when rate(order.placed) < 0.{rng.randint(1, 9)} over 30m',
        f'when order.total > {rng.randint(100, 100000)} where currency in ["USD", "EUR"]',
    ])


def _monitor(i: int, rng: random.Random) -> str:
    trigger = _trigger(rng)
    clauses = [rng.choice(NOTIFY)]
    is_metric = " over " in trigger
    if rng.random() < 0.5:
        clauses.append(f"severity {rng.choice(['info', 'warning', 'error', 'critical'])}")
    if rng.random() < 0.3:
        clauses.append(f"every {rng.choice(DURATIONS)}")
    if rng.random() < 0.2:
        clauses.append(f'escalate to group "Leads" after {rng.choice(DURATIONS)}')
    if is_metric and rng.random() < 0.3:
        clauses.append(f"for {rng.choice(DURATIONS)}")
    if rng.random() < 0.2:
        clauses.append('message "{{ monitor.name }}: $INSTANCE in $FLOW ({{ alert.count }})"')
    if rng.random() < 0.2:
        clauses.append(f'label team "{rng.choice(["core", "growth", "security"])}"')
    if rng.random() < 0.1:
        clauses.append('mute during "maintenance"')
    layout = rng.random()
    if layout < 0.4:
        return f'monitor "m{i}" {trigger} ' + " ".join(clauses)
    if layout < 0.8:
        return f'monitor "m{i}" {trigger}\n  ' + " ".join(clauses)
    return f'monitor "m{i}"\n{trigger}\n  ' + "\n  ".join(clauses)


def generate(count: int, seed: int = 7) -> dict[str, str]:
    """{file name: text}: `count` monitors over FILES files, plus shared.rules."""
    rng = random.Random(seed)
    files: dict[str, list[str]] = {f"m{n:02d}.rules": [] for n in range(FILES)}
    names = list(files)
    for i in range(count):
        files[names[i % FILES]].append(f"# monitor {i}\n" + _monitor(i, rng))
    sources = {"shared.rules": SHARED}
    sources.update({name: "\n\n".join(parts) + "\n" for name, parts in files.items()})
    return sources


def _custom_parse(text: str, name: str):
    return dsl.parse(text, file=name)[0]


def stock_parser(tree: bool):
    """A parse function on stock Lark: LALR, contextual lexer, grammar cached on disk.

    Lark's tokens are turned into the front end's (a post-lexer) so that `ToAst`'s
    callbacks run unchanged: inline, or over a parse tree with `tree`. The inline
    transformer is one shared instance (one file name, comments not kept): enough to
    time it, not a front end."""
    from importlib import resources

    from lark import Lark

    from dsl import ast as A
    from dsl.lexer import make_token
    from dsl.parser import gc_paused
    from dsl.transform import ToAst

    class Tokens:
        always_accept = ()

        def process(self, stream):
            for t in stream:
                yield make_token(t.type, t.value, t.line, t.column, t.end_line, t.end_column,
                                 t.start_pos, t.end_pos)

    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    lark = Lark(grammar, parser="lalr", lexer="contextual", keep_all_tokens=True, maybe_placeholders=False,
                cache=True, postlex=Tokens(), transformer=None if tree else ToAst("stock.rules"))

    def parse(text: str, name: str):
        with gc_paused():
            decls = ToAst(name).transform(lark.parse(text)) if tree else lark.parse(text)
        return A.RuleFile(name, tuple(decls), ())

    return parse


parse_file = _custom_parse  # main() puts a stock_parser here for --machinery stock


def _parse_all(sources: dict[str, str]) -> list:
    return [parse_file(text, name) for name, text in sources.items()]


def run_parse(sources):
    _parse_all(sources)


def run_check(sources):
    return dsl.check(_parse_all(sources))


def run_format(sources):
    files = _parse_all(sources)
    dsl.check(files)
    for f in files:
        format_file(f)


def median_rates(fn, sources, monitors: int, runs: int) -> tuple[float, float, list[float]]:
    """(monitors/s by wall clock, monitors/s by this process's CPU time, wall times).

    Both are medians; the CPU figure shows what other load on the machine hides."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        fn(sources)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return monitors / statistics.median(walls), monitors / statistics.median(cpus), walls


SWEEP_TERMS = (1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000)
SWEEP_SHAPES = {
    "and": lambda n: " and ".join(f"x{i} == {i}" for i in range(n)),
    "or": lambda n: " or ".join(f'flow == "f{i}"' for i in range(n)),
    "list": lambda n: "x in [" + ", ".join(f"{i} + {i}" for i in range(n)) + "]",
}


def _cpu(fn) -> tuple[float, object]:
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def sweep() -> None:
    """Microseconds of CPU per term for parse, check and format, by chain length."""
    print("\nsize sweep: one `when execution.failed where …` of N terms; CPU µs per term (best of 2)")
    print(f"{'shape':<6} {'terms':>7} {'parse':>8} {'check':>8} {'format':>8}   total s")
    for shape, condition in SWEEP_SHAPES.items():
        for terms in SWEEP_TERMS:
            text = "when execution.failed where " + condition(terms) + "\n"
            best = [float("inf")] * 3
            for _ in range(2):
                parse_s, (rule_file, syntax) = _cpu(lambda: dsl.parse(text, file="sweep.rules"))
                check_s, diagnostics = _cpu(lambda: dsl.check([rule_file]))
                format_s, _ = _cpu(lambda: format_file(rule_file))
                best = [min(b, x) for b, x in zip(best, (parse_s, check_s, format_s))]
            if syntax or any(d.is_error for d in diagnostics):
                sys.exit(f"the sweep's {shape} text of {terms} terms has errors: {(syntax + diagnostics)[:1]}")
            per_term = "".join(f"{x / terms * 1e6:>9.1f}" for x in best)
            print(f"{shape:<6} {terms:>7,}{per_term}   {sum(best):>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sweep-only", action="store_true", help="only the size sweep")
    parser.add_argument("--no-sweep", action="store_true", help="only the throughput figures")
    parser.add_argument("--machinery", choices=("custom", "stock", "stock-tree"), default="custom",
                        help="the parser to time (see docs/performance.md § Parser machinery)")
    parser.add_argument("--count", choices=("baseline", "parse-check"),
                        help="for instruction counts (valgrind --tool=callgrind): start up, warm up "
                             "on 20 other monitors, then nothing (baseline) or one parse + check")
    args = parser.parse_args()
    if args.machinery != "custom":
        global parse_file
        parse_file = stock_parser(tree=args.machinery == "stock-tree")
    if args.count:
        sources = generate(args.monitors)
        run_check(generate(20, seed=1))  # warm-up: tables, caches, the checker's grammar lookups
        if args.count == "parse-check":
            errors = [d for d in run_check(sources) if d.is_error]
            assert not errors, errors[:3]
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if args.sweep_only:
        sweep()
        return
    sources = generate(args.monitors)
    lines = sum(t.count("\n") for t in sources.values())
    diagnostics = run_check(sources)  # also warms up the parser's caches
    errors = [d for d in diagnostics if d.is_error]
    print(f"{args.machinery}: {args.monitors} monitors in {len(sources)} files, {lines} lines; "
          f"check: {len(errors)} errors, {len(diagnostics) - len(errors)} other diagnostics")
    if errors:
        for d in errors[:5]:
            print("  ", d.to_dict())
        sys.exit(1)
    for label, fn in (("parse", run_parse), ("parse + check", run_check),
                      ("parse + check + format", run_format)):
        wall, cpu, times = median_rates(fn, sources, args.monitors, args.runs)
        spread = ", ".join(f"{t:.2f}" for t in times)
        print(f"{label:<24} {wall:>9,.0f} monitors/s wall, {cpu:>9,.0f} monitors/s CPU"
              f"  (median of {args.runs}; wall runs {spread} s)")
    if not args.no_sweep:
        sweep()


if __name__ == "__main__":
    main()
