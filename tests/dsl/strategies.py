"""Hypothesis strategies for the monitor language: ASTs built from every construct.

Two families:
- `rule_files()`: syntactically valid ASTs (any names, any expression shapes) for the
  parse/format round trip. Spans are left unknown; `dsl.formatter.format_file` renders
  them to text.
- `valid_programs()`: rule texts that must also pass `dsl.load` without errors: known
  event types and fields, defined groups/channels/schedules, well-typed comparisons.

Only canonical shapes are generated (what the parser itself returns): e.g. `-5` is
`Number(-5)`, never `Unary("-", Number(5))`, and `and`/`or` chains are balanced
(`dsl.precedence.canonical`).
"""

from __future__ import annotations

from functools import cache

from hypothesis import strategies as st

from dsl import ast as A
from dsl import catalog as C
from dsl import grammar
from dsl.precedence import canonical

# Words the grammar treats as keywords somewhere. A path's first part that is one of
# these can be read as that keyword, so generated names avoid them there.
KEYWORDS = frozenset(grammar.keywords().values())

IDENT = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,10}\Z").filter(lambda s: s not in KEYWORDS)
# After a `.` only a name can follow, so keywords are fine there.
LATER_PART = st.one_of(IDENT, st.sampled_from(sorted(KEYWORDS)))

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


# ------------------------------------------------------------------------ literals


@st.composite
def strings(draw, text=TEXT) -> A.String:
    return A.String(draw(text), triple=draw(st.booleans()))


@cache
def numbers(signed: bool = True) -> st.SearchStrategy[A.Number]:
    ints = st.integers(min_value=-10**12 if signed else 0, max_value=10**12)
    floats = st.floats(min_value=-1e20 if signed else 0, max_value=1e20, allow_nan=False,
                       allow_infinity=False)
    return st.one_of(ints, floats).map(A.Number)


@cache
def percents(signed: bool = True) -> st.SearchStrategy[A.Percent]:
    lo = -1000 if signed else 0
    values = st.one_of(st.integers(lo, 1000), st.floats(lo, 1000, allow_nan=False))
    return values.map(A.Percent)


def _seconds(millis: int) -> int | float:
    return millis // 1000 if millis % 1000 == 0 else millis / 1000


@st.composite
def _written_seconds(draw) -> int | float:
    """Seconds of a duration as someone may write it: `1.5h`, `0.001s`, `2d3h`."""
    from dsl.literals import parse_duration

    # Three parts of at most 1000.999999d stay within the ten-year limit (dsl.limits).
    parts = draw(st.lists(st.tuples(st.integers(0, 10**3), st.none() | st.integers(0, 10**6),
                                    st.sampled_from(["ms", "s", "m", "h", "d"])), min_size=1, max_size=3))
    return parse_duration("".join(f"{n}{'' if f is None else f'.{f}'}{u}" for n, f, u in parts))


@cache
def durations(signed: bool = False) -> st.SearchStrategy[A.Duration]:
    units = st.sampled_from([1, 250, 1000, 60_000, 3_600_000, 86_400_000])
    positive = st.one_of(st.builds(lambda n, u: _seconds(n * u), st.integers(0, 90), units),
                         _written_seconds())
    if signed:
        positive = st.builds(lambda s, neg: -s if neg else s, positive, st.booleans())
    return positive.map(A.Duration)


@st.composite
def paths(draw, star: bool | None = False) -> A.Path:
    first = draw(IDENT)
    rest = draw(st.lists(LATER_PART, max_size=3))
    has_star = draw(st.booleans()) if star is None else star
    return A.Path((first, *rest), has_star)


@cache
def literals() -> st.SearchStrategy:
    return st.one_of(
        strings(), numbers(), percents(), durations(signed=True),
        st.booleans().map(A.Bool), st.just(A.Null()),
    )


# --------------------------------------------------------------------- expressions

ORDERING = tuple(op for op in C.COMPARISON_OPERATORS if not op[0].isalpha())
STRING_OPS = tuple(op for op in C.COMPARISON_OPERATORS if op[0].isalpha() and op not in ("in", "not in"))


def _unary_minus(operand):
    # `-5` parses as Number(-5): a minus before a numeric literal is folded, so the tree
    # form with Unary only exists for other operands.
    if isinstance(operand, (A.Number, A.Percent, A.Duration)):
        return None
    return A.Unary("-", operand)


def _expressions(aggregates: bool, max_leaves: int) -> st.SearchStrategy:
    leaves = [paths(star=None), literals()]
    if aggregates:
        leaves.append(st.deferred(lambda: AGGREGATE_CALLS))
    base = st.one_of(*leaves)

    def extend(children):
        return st.one_of(
            st.builds(A.Binary, st.sampled_from(sorted(C.BINARY_OPERATORS)), children, children),
            st.builds(A.Unary, st.just("not"), children),
            children.map(_unary_minus).filter(lambda x: x is not None),
            st.builds(A.Compare, st.sampled_from(ORDERING + STRING_OPS), children, children),
            st.builds(A.Compare, st.sampled_from(["in", "not in"]), children,
                      st.lists(children, max_size=3).map(lambda xs: A.ListExpr(tuple(xs)))),
            paths().map(A.Exists),
        )

    return st.recursive(base, extend, max_leaves=max_leaves)


# Built once: constructing recursive strategies is what makes generation slow.
_CACHE: dict[tuple[bool, int], st.SearchStrategy] = {}


def expressions(aggregates: bool = True, max_leaves: int = 8) -> st.SearchStrategy:
    """Any expression tree; with `aggregates`, `count(...)`-style calls among the leaves."""
    key = (aggregates, max_leaves)
    if key not in _CACHE:
        _CACHE[key] = _expressions(aggregates, max_leaves).map(canonical)
    return _CACHE[key]


AGGREGATE_CALLS = st.builds(
    A.Aggregate,
    st.one_of(st.sampled_from(C.AGGREGATES), IDENT),
    paths(star=None),
    st.none() | paths(),
    st.none() | expressions(aggregates=False, max_leaves=3),
)


# ------------------------------------------------------------------------ triggers


@cache
def comparison_triggers() -> st.SearchStrategy[A.ComparisonTrigger]:
    """`FIELD OP VALUE` with an aggregate-free value (else it would be a metric)."""
    plain = st.builds(A.ComparisonTrigger, paths(), st.sampled_from(ORDERING + STRING_OPS),
                      expressions(aggregates=False, max_leaves=4))
    listed = st.builds(A.ComparisonTrigger, paths(), st.sampled_from(["in", "not in"]),
                       st.lists(literals(), max_size=3).map(lambda xs: A.ListExpr(tuple(xs))))
    return st.one_of(plain, listed)


@cache
def triggers() -> st.SearchStrategy:
    return st.one_of(
        paths(star=None).map(A.EventTrigger),
        comparison_triggers(),
        st.builds(A.AbsenceTrigger, paths(star=None), durations()),
        st.builds(A.MetricTrigger, expressions(max_leaves=6), durations()),
    )


# ------------------------------------------------------------------------- clauses

TARGET_KINDS = st.one_of(st.sampled_from(C.TARGET_KINDS), IDENT)


@cache
def targets() -> st.SearchStrategy[A.Target]:
    return st.builds(A.Target, TARGET_KINDS, strings())


@cache
def vias() -> st.SearchStrategy[A.Via]:
    return st.builds(A.Via, TARGET_KINDS, st.none() | strings())


def _tuple_of(strategy, min_size=1, max_size=3):
    return st.lists(strategy, min_size=min_size, max_size=max_size).map(tuple)


@cache
def clauses() -> st.SearchStrategy:
    return st.one_of(
        st.builds(A.WhereClause, expressions(max_leaves=6)),
        st.builds(A.OnClause, st.one_of(st.sampled_from(C.SCOPES), IDENT),
                  _tuple_of(strings())),
        st.builds(A.ByClause, _tuple_of(paths())),
        st.builds(A.NotifyClause, _tuple_of(targets()), _tuple_of(vias(), min_size=0), st.booleans()),
        st.builds(A.EveryClause, durations()),
        st.builds(A.ForClause, durations()),
        st.builds(A.KeepFiringClause, durations()),
        st.builds(A.EscalateClause, _tuple_of(targets()), durations()),
        st.builds(A.UntilClause, paths(star=None), st.none() | expressions(max_leaves=4)),
        st.builds(A.SeverityClause, st.one_of(st.sampled_from(C.SEVERITIES), IDENT)),
        st.builds(A.MessageClause, strings()),
        st.builds(A.RunbookClause, strings()),
        st.builds(A.LabelClause, IDENT, strings()),
        st.builds(A.MuteClause, strings()),
        st.just(A.DisabledClause()),
    )


def _no_where_right_after_bare_until(clause_list: list) -> bool:
    # `until P` then `where C` is read as `until P where C` (spec: write the monitor's own
    # `where` before `until`), so that sequence has no text of its own.
    for i, c in enumerate(clause_list[:-1]):
        if isinstance(c, A.UntilClause) and c.where is None and isinstance(clause_list[i + 1], A.WhereClause):
            return False
    return True


@st.composite
def monitors(draw) -> A.Monitor:
    trigger = draw(triggers())
    clause_list = draw(st.lists(clauses(), max_size=5).filter(_no_where_right_after_bare_until))
    name = draw(st.none() | strings())
    return A.Monitor(trigger, tuple(clause_list), name)


# -------------------------------------------------------------------------- blocks

WORD = IDENT.filter(lambda s: s not in ("true", "false", "null"))


@cache
def json_values(max_leaves: int = 8) -> st.SearchStrategy:
    scalars = st.one_of(strings(), numbers(), st.booleans().map(A.Bool), st.just(A.Null()))

    def extend(children):
        return st.one_of(
            st.lists(children, max_size=4).map(lambda xs: A.JsonArray(tuple(xs))),
            st.lists(st.tuples(strings(), children), max_size=4).map(lambda ms: A.JsonObject(tuple(ms))),
        )

    return st.recursive(scalars, extend, max_leaves=max_leaves)


@cache
def time_ranges() -> st.SearchStrategy[A.TimeRange]:
    return st.builds(A.TimeRange, st.integers(0, 1440), st.integers(0, 1440))


@cache
def block_values() -> st.SearchStrategy:
    return st.one_of(
        strings(), numbers(), percents(signed=False), durations(), time_ranges(),
        st.booleans().map(A.Bool), st.just(A.Null()),
        json_values().filter(lambda v: isinstance(v, (A.JsonObject, A.JsonArray))),
    )


@cache
def block_items() -> st.SearchStrategy[A.BlockItem]:
    words = _tuple_of(WORD.map(A.Word), max_size=4)
    values = _tuple_of(block_values(), max_size=3)
    keys = st.one_of(st.sampled_from(sorted({k for settings in C.SETTINGS.values() for k in settings})), IDENT)
    return st.builds(A.BlockItem, keys, st.one_of(words, values))


@cache
def blocks() -> st.SearchStrategy[A.Block]:
    return st.builds(A.Block, st.sampled_from(C.BLOCK_KINDS), strings(),
                     st.lists(block_items(), max_size=4).map(tuple))


@cache
def rule_files() -> st.SearchStrategy[A.RuleFile]:
    decl = st.one_of(monitors(), blocks())
    return st.lists(decl, max_size=4).map(lambda ds: A.RuleFile("gen.rules", tuple(ds)))


# ------------------------------------------------------- programs that check clean

SHARED = '''\
group "DevOps" {
  email "ana@example.com", "bo@example.com"
  sms "+14155550100"
  webhook "PagerDuty"
}
webhook "PagerDuty" {
  url "https://events.pagerduty.com/v2/enqueue"
  payload { "routing_key": "{{ secrets.PD_KEY }}", "summary": "$NAME on $INSTANCE" }
}
slack "ops" { url "{{ secrets.SLACK_OPS }}" }
pagerduty "core" { routing_key "{{ secrets.PD_KEY }}" }
schedule "maintenance" { days sat, sun  hours 01:00-03:00  timezone "Europe/Berlin" }
monitor "uses every shared declaration"
when execution.failed
  notify group "DevOps", slack "ops", pagerduty "core"
  mute during "maintenance"
'''

FLOWS = st.sampled_from(["Sync", "Import Orders", "Nightly Export", "Ünïcode ✓"])
NOTIFY = st.sampled_from([
    'notify group "DevOps"', 'notify slack "ops"', 'notify group "DevOps" via email',
    'notify group "DevOps" via email, sms', 'notify webhook "PagerDuty"', 'notify pagerduty "core"',
    'notify email "oncall@example.com"', 'notify group "DevOps" via webhook "PagerDuty" without resolved',
])
SEVERITY = st.sampled_from([f"severity {s}" for s in C.SEVERITIES])
DUR = st.sampled_from(["30s", "1m", "5m", "15m", "1h", "1h30m", "2h", "1d"])


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def valid_event_monitor(draw) -> str:
    kind = draw(st.sampled_from(["failed", "duration", "log", "connection", "instance", "retry",
                                 "absence", "custom"]))
    flow = draw(FLOWS)
    if kind == "failed":
        text = f"when execution.failed on flow {_q(flow)}"
        if draw(st.booleans()):
            text += f' where step == {_q(draw(FLOWS))} and message contains "timeout"'
        if draw(st.booleans()):
            text += " until execution.completed"
    elif kind == "duration":
        text = f"when execution.duration >= {draw(DUR)} on flow {_q(flow)}"
    elif kind == "log":
        text = f"when log.level >= {draw(st.sampled_from(['warn', 'error', 'fatal']))}"
    elif kind == "connection":
        text = 'when connection.error where connection.error matches "(?i)token|401"'
    elif kind == "instance":
        text = f"when instance.{draw(st.sampled_from(['enabled', 'disabled', 'removed']))} by instance"
    elif kind == "retry":
        text = f"when execution.retry_pending where execution.attempt >= {draw(st.integers(1, 9))}"
    elif kind == "absence":
        text = f"when no execution.completed within {draw(DUR)} on flow {_q(flow)}"
    else:
        text = f'when order.placed where total > {draw(st.integers(0, 10**6))} and currency in ["USD", "EUR"]'
    if kind != "absence" and draw(st.booleans()):
        text += f" every {draw(DUR)}"
    return text


@st.composite
def valid_metric_monitor(draw) -> str:
    window = draw(DUR)
    shape = draw(st.sampled_from(["count", "ratio", "avg", "distinct", "p95", "rate"]))
    threshold = draw(st.integers(1, 500))
    if shape == "count":
        cond = f"count(customer.login_failed) > {threshold}"
        by = " by login_location"
    elif shape == "ratio":
        cond = (f"count(execution.failed) / count(execution.*) > {draw(st.integers(1, 99))}% "
                f"and count(execution.*) >= {threshold}")
        by = " by flow"
    elif shape == "avg":
        cond = f"avg(duration of execution.completed) > {draw(DUR)}"
        by = " by instance"
    elif shape == "distinct":
        cond = f"distinct(ip of customer.login_failed) >= {threshold}"
        by = ""
    elif shape == "p95":
        cond = f"p95(duration of execution.completed) > {draw(DUR)}"
        by = " by flow"
    else:
        cond = f"rate(order.placed) < {draw(st.floats(0.01, 10).map(lambda f: round(f, 2)))}"
        by = ""
    text = f"when {cond} over {window}{by}"
    if draw(st.booleans()):
        text += f" for {draw(DUR)}"
    if draw(st.booleans()):
        text += f" keep firing for {draw(DUR)}"
    return text


@st.composite
def valid_programs(draw) -> str:
    """Rule text that `dsl.load` accepts without errors or warnings."""
    out = [SHARED]
    count = draw(st.integers(1, 5))
    for i in range(count):
        body = draw(st.one_of(valid_event_monitor(), valid_metric_monitor()))
        extra = [draw(NOTIFY)]
        if draw(st.booleans()):
            extra.append(draw(SEVERITY))
        if draw(st.booleans()):
            extra.append(f'label team {_q(draw(FLOWS))}')
        if draw(st.booleans()):
            extra.append('message "{{ monitor.name }}: $INSTANCE in $FLOW"')
        if draw(st.booleans()):
            extra.append(f'escalate to group "DevOps" after {draw(DUR)}')
        # A name keeps monitors unique even when two draws produce the same text.
        out.append(f"monitor {_q(f'generated {i}')}\n{body}\n  " + "\n  ".join(extra))
    return "\n\n".join(out) + "\n"


# ------------------------------------------------------------------ fuzzing


def fuzz_texts() -> st.SearchStrategy[str]:
    """Any input of `tests/dsl/fuzz_inputs.py` (mutated corpus files, token soup, raw
    text, stress shapes), drawn through Hypothesis so failures shrink and replay."""
    from tests.dsl.fuzz_inputs import fuzz_text

    return st.randoms(use_true_random=False).map(fuzz_text)


def mutated_corpus() -> st.SearchStrategy[str]:
    """A file of rules/ or tests/dsl/cases/ with a few random edits."""
    from tests.dsl.fuzz_inputs import corpus, mutate

    return st.builds(mutate, st.randoms(use_true_random=False), st.sampled_from(corpus()))

