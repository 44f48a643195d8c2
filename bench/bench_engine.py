"""Engine throughput and memory (a benchmark that prints figures, not a test).

    .venv/bin/python bench/bench_engine.py [--events 50000] [--runs 5]
    valgrind --tool=callgrind .venv/bin/python bench/bench_engine.py --process-only 3000 [--monitors 1000]

For 10, 1,000 and 10,000 monitors (a mix: event triggers with `where`, execution
duration timers, metric counts, log-level comparisons and absence triggers, most scoped
`on flow`, at most ~10 candidates per event) it prints events/s and µs/event (median of
several runs, one core, timers ticked every 1,000 events; CPU time of this process, so
other load on the machine distorts the figures less), the mix as measured (candidates
per event, the fraction of events that produce an alert event), memory per 100,000
open alert keys (tracemalloc), and the same conditions evaluated with the PyPI `rule-engine`
package, one `Rule.matches` per monitor per event (no index, no windows or timers: it
only evaluates the predicates, which favours it) as a ratio.
"""

from __future__ import annotations

import argparse
import os
import gc
import random
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dsl  # noqa: E402
from engine import Engine  # noqa: E402
from engine.model import rfc3339  # noqa: E402

BASE = datetime(2026, 1, 5, tzinfo=timezone.utc)
UNSCOPED = [
    'monitor "u-failed" when execution.failed where step == "Fetch" and message contains "timeout"',
    'monitor "u-ratio" when count(execution.failed) / count(execution.*) > 50% and count(execution.*) >= 100 over 5m by flow',
    'monitor "u-log" when log.level >= fatal',
]
KINDS = [
    ('when execution.failed on flow "{f}" where step == "Fetch"',
     'type == "execution.failed" and flow == "{f}" and step == "Fetch"'),
    ('when execution.duration >= 10m on flow "{f}"',
     'type =~ "execution\\\\..*" and flow == "{f}" and execution.duration >= 600'),
    ('when count(execution.failed) > 1000 over 5m on flow "{f}"',
     'type == "execution.failed" and flow == "{f}"'),
    ('when log.level >= error on flow "{f}" where message contains "timeout"',
     'type == "log.written" and flow == "{f}" and level in ["error", "fatal"] and "timeout" in message'),
    ('when no execution.completed within 1h on flow "{f}"',
     'type == "execution.completed" and flow == "{f}"'),
]
PER_FLOW = 5


def monitor_texts(n: int) -> tuple[list[str], list[str], list[str]]:
    """(rule lines, rule-engine conditions, flow names) for n monitors."""
    scoped = max(0, n - len(UNSCOPED))
    flows = [f"F{j}" for j in range(max(1, scoped // PER_FLOW))]
    lines = UNSCOPED[: min(n, len(UNSCOPED))]
    conds = ['type == "execution.failed" and step == "Fetch" and "timeout" in message',
             'type =~ "execution\\\\..*"', 'type == "log.written" and level == "fatal"'][: len(lines)]
    for i in range(scoped):
        text, cond = KINDS[i % len(KINDS)]
        f = flows[(i // len(KINDS)) % len(flows)]
        lines.append(f'monitor "m{i}" ' + text.format(f=f))
        conds.append(cond.format(f=f))
    return lines, conds, flows


ACTIVE_FLOWS = 10


def make_events(count: int, flows: list[str], seed: int = 7) -> list[dict]:
    """Events over the first ten flows and 50 instances, whatever the monitor count:
    most monitors of a large rule set are quiet at any moment, and the same stream
    keeps the comparison between rule-set sizes about the index, not about more keys."""
    rnd = random.Random(seed)
    flows = flows[:ACTIVE_FLOWS]
    types = ["execution.started", "execution.completed", "execution.failed", "log.written"]
    out = []
    for i in range(count):
        t = rnd.choice(types)
        e = {"id": f"e{i}", "type": t, "time": rfc3339(BASE + timedelta(milliseconds=20 * i)),
             "flow": rnd.choice(flows), "instance": {"id": f"I{rnd.randrange(50)}", "name": "x"},
             "step": rnd.choice(["Fetch", "Store", "Map"]), "message": rnd.choice(["ok", "read timeout", "HTTP 503"]),
             "execution": {"id": f"X{i // 3}", "duration": rnd.random() * 30}}
        if t == "log.written":
            e["level"] = rnd.choice(["debug", "info", "warn", "error", "fatal"])
            del e["execution"]
        out.append(e)
    return out


def load(lines: list[str]):
    ruleset, diags = dsl.load({"bench.rules": "\n".join(lines)})
    assert ruleset is not None, [d.message for d in diags if d.severity == "error"][:3]
    return ruleset


def run_engine(ruleset, events: list[dict]) -> float:
    """CPU seconds for the events (compiling the monitors is not counted: see `compile_s`)."""
    engine = Engine(ruleset, now=BASE)
    for e in events[:50]:  # build the index's per-type buckets outside the timing
        engine.index.candidates(e)
    gc.collect()
    start = time.process_time()
    for i, e in enumerate(events):
        engine.process(e)
        if i % 1000 == 999:
            engine.tick(BASE + timedelta(milliseconds=20 * i))
    return time.process_time() - start


def mix_stats(ruleset, events: list[dict]) -> tuple[float, int, float]:
    """(mean candidates per event, the most for one event, the fraction of events that
    produce at least one alert event), from an untimed pass."""
    engine = Engine(ruleset, now=BASE)
    counts = [len(engine.index.candidates(e)) for e in events]
    alerting = 0
    for i, e in enumerate(events):
        alerting += bool(engine.process(e))
        if i % 1000 == 999:
            engine.tick(BASE + timedelta(milliseconds=20 * i))
    return statistics.fmean(counts), max(counts), alerting / len(events)


def run_rule_engine(conds: list[str], events: list[dict]) -> float:
    import rule_engine

    ctx = rule_engine.Context(default_value=None)
    rules = [rule_engine.Rule(c, context=ctx) for c in conds]
    start = time.process_time()
    for e in events:
        for r in rules:
            r.matches(e)
    return time.process_time() - start


def memory_per_100k_keys() -> float:
    """MiB held by 100,000 open event alerts: the alerts, keys, expiry timers and the
    bounded id caches (the events themselves exist before the measurement starts)."""
    ruleset = load(['monitor "m" when execution.failed by execution.id'])
    events = [{"id": f"e{i}", "type": "execution.failed", "time": rfc3339(BASE + timedelta(milliseconds=i)),
               "execution": {"id": f"X{i}"}} for i in range(100_000)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = Engine(ruleset, now=BASE)
    for i, e in enumerate(events):
        engine.process(e)
        if i % 1000 == 999:
            engine.drain_changes()  # as the service does after each batch
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(engine.alerts()) == 100_000
    return (after - before) / 2**20


def process_only(count: int, monitors: int = 1_000) -> None:
    """Load `monitors`, process 1,000 warm-up events, then `count` more (at most 10,000),
    print nothing: run it under `valgrind --tool=callgrind` with `count` N and 0 and
    divide the difference of the instruction totals by N for a figure that load cannot
    distort. The same 11,000 events are built whatever `count` is."""
    lines, _, flows = monitor_texts(monitors)
    ruleset = load(lines)
    events = make_events(11_000, flows)
    engine = Engine(ruleset, now=BASE)
    for e in events[: 1_000 + min(count, 10_000)]:
        engine.process(e)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rule-engine-events", type=int, default=300)
    p.add_argument("--process-only", type=int, metavar="N",
                   help="only process N events with --monitors monitors (for callgrind)")
    p.add_argument("--monitors", type=int, default=1_000,
                   help="the rule set's size for --process-only (default 1,000)")
    args = p.parse_args()
    if args.process_only is not None:
        process_only(args.process_only, args.monitors)
        return
    print(f"python {sys.version.split()[0]}; {args.events} events, median of {args.runs} runs, "
          f"CPU time; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'monitors':>9} {'events/s':>10} {'µs/event':>9} {'rule-engine µs/event':>21} {'ratio':>7}")
    base_us = None
    for n in (10, 1_000, 10_000):
        lines, conds, flows = monitor_texts(n)
        ruleset = load(lines)
        events = make_events(args.events, flows)
        start = time.process_time()
        Engine(ruleset, now=BASE)
        compile_s = time.process_time() - start
        secs = statistics.median(run_engine(ruleset, events) for _ in range(args.runs))
        us = secs / len(events) * 1e6
        base_us = base_us or us
        sample = events[: args.rule_engine_events]
        re_secs = statistics.median(run_rule_engine(conds, sample) for _ in range(3))
        re_us = re_secs / len(sample) * 1e6
        cands, most, alerting = mix_stats(ruleset, events)
        print(f"{n:>9} {len(events) / secs:>10,.0f} {us:>9.1f} {re_us:>21,.1f} {re_us / us:>6.0f}x"
              f"   (cost vs 10 monitors: {us / base_us:.2f}x; compiling took {compile_s:.2f} s; "
              f"candidates/event {cands:.1f}, at most {most}; {alerting:.0%} of events alert)")
    print(f"memory per 100,000 open alert keys: {memory_per_100k_keys():.1f} MiB")


if __name__ == "__main__":
    main()
