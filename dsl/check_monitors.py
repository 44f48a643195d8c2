"""One monitor on its own: trigger, clauses and their applicability, expression types.

Names (groups, channels, schedules, duplicate monitors) are resolved across files in
`dsl.refs`; "can never fire" warnings live in `dsl.never`.
"""

from __future__ import annotations

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error
from dsl.exprtypes import Scope, expect_bool, infer
from dsl.grammar import clause_word
from dsl.fields import check_pattern, family_of, resolve, resolve_trigger_field
from dsl.walk import aggregates, trigger_families
from dsl.compare import check_compare
from dsl.never import never_fires
from dsl.suggest import did_you_mean
from dsl.targets import check_notify, check_targets
from dsl.templates import check_template



def check_monitor(m: A.Monitor) -> list[Diagnostic]:
    """Every problem of one monitor that does not need other declarations."""
    out: list[Diagnostic] = []
    families = _check_trigger(m.trigger, out)
    _check_duplicates(m, out)
    for clause in m.clauses:
        _check_clause(clause, m.trigger, families, out)
    out.extend(never_fires(m))
    return out


# ---------------------------------------------------------------- triggers


def _check_trigger(t: A.Trigger, out: list[Diagnostic]) -> frozenset[str]:
    families = trigger_families(t)
    if isinstance(t, A.EventTrigger):
        _add(out, check_pattern(t.pattern))
    elif isinstance(t, A.AbsenceTrigger):
        _add(out, check_pattern(t.pattern))
        _positive(t.within, "within", out)
    elif isinstance(t, A.ComparisonTrigger):
        _comparison_trigger(t, out)
    else:
        _metric_trigger(t, out)
    return families


def _comparison_trigger(t: A.ComparisonTrigger, out: list[Diagnostic]) -> None:
    scope = Scope(frozenset({t.family}), out=out)
    if len(t.field.parts) < 2 or t.field.star:
        out.append(error(t.field.span, "E403", f"`{t.field.dotted}` is not an event field: a comparison "
                         "trigger is `FAMILY.FIELD OP VALUE`", "e.g. `when order.total > 1000`"))
        infer(t.value, scope)
        return
    field_type, problem = resolve_trigger_field(t.field)
    if problem:
        out.append(problem)
        infer(t.value, scope)
        return
    check_compare(t.op, t.field, t.value, scope, t.span, left_type=field_type)


def _metric_trigger(t: A.MetricTrigger, out: list[Diagnostic]) -> None:
    _positive(t.window, "over", out)
    if not aggregates(t.condition):
        out.append(error(t.condition.span, "E403", "a metric trigger needs an aggregate",
                         "e.g. `when count(execution.failed) > 5 over 10m`"))
    scope = Scope(frozenset(), metric=True, out=out)
    result = infer(t.condition, scope)
    if result not in (C.BOOL, C.UNKNOWN):
        out.append(error(t.condition.span, "E403", f"a metric condition must compare, not be a {result}",
                         "e.g. `count(execution.failed) > 5`"))


def _positive(d: A.Duration, word: str, out: list[Diagnostic]) -> None:
    if d.seconds <= 0:
        out.append(error(d.span, "E306", f"`{word}` needs a duration above zero", "e.g. `15m`"))


# ----------------------------------------------------------------- clauses


def _check_duplicates(m: A.Monitor, out: list[Diagnostic]) -> None:
    seen: set = set()
    labels: set[str] = set()
    for c in m.clauses:
        word = clause_word(type(c))
        if isinstance(c, A.LabelClause):
            if c.name in labels:
                out.append(error(c.span, "E402", f"label `{c.name}` is given more than once", "keep one"))
            labels.add(c.name)
        elif word not in C.REPEATABLE_CLAUSES:
            if word in seen:
                out.append(error(c.span, "E402", f"`{word}` may appear only once in a monitor", "keep one"))
            seen.add(word)


def _check_clause(c, trigger: A.Trigger, families: frozenset[str], out: list[Diagnostic]) -> None:
    metric = isinstance(trigger, A.MetricTrigger)
    if isinstance(c, A.WhereClause):
        expect_bool(c.condition, Scope(families, out=out), "a `where` condition")
    elif isinstance(c, A.OnClause):
        _on(c, families, out)
    elif isinstance(c, A.ByClause):
        for f in c.fields:
            _add(out, resolve(f, families)[1])
    elif isinstance(c, A.NotifyClause):
        out.extend(check_notify(c))
    elif isinstance(c, A.EscalateClause):
        out.extend(check_targets(c.targets))
    elif isinstance(c, A.EveryClause):
        _positive(c.interval, "every", out)
    elif isinstance(c, (A.ForClause, A.KeepFiringClause)) and not metric:
        word = clause_word(type(c))
        out.append(error(c.span, "E401", f"`{word}` applies only to metric triggers",
                         "event triggers fire on each matching event; use `every` to limit notifications"))
    elif isinstance(c, A.UntilClause):
        _until(c, trigger, out)
    elif isinstance(c, A.SeverityClause) and c.level not in C.SEVERITIES:
        hint = did_you_mean(c.level, C.SEVERITIES) or "severities: " + ", ".join(C.SEVERITIES)
        out.append(error(c.level_span, "E205", f"unknown severity `{c.level}`", hint))
    elif isinstance(c, A.MessageClause):
        out.extend(check_template(c.text))


def _on(c: A.OnClause, families: frozenset[str], out: list[Diagnostic]) -> None:
    if c.scope not in C.SCOPES:
        hint = did_you_mean(c.scope, C.SCOPES) or "scopes: " + ", ".join(C.SCOPES)
        out.append(error(c.scope_span, "E206", f"unknown scope `{c.scope}`", hint))
    elif c.scope == "flow" and families == {"instance"}:
        out.append(error(c.span, "E401", "`on flow` does not apply to instance events: they are "
                         "instance-level, not flow-specific", 'scope them with `on instance "…"`'))


def _until(c: A.UntilClause, trigger: A.Trigger, out: list[Diagnostic]) -> None:
    if not isinstance(trigger, (A.EventTrigger, A.ComparisonTrigger)):
        kind = "absence" if isinstance(trigger, A.AbsenceTrigger) else "metric"
        out.append(error(c.span, "E401", f"`until` does not apply to {kind} triggers: they resolve "
                         "on their own", "`until` needs an event or comparison trigger"))
    _add(out, check_pattern(c.pattern))
    if c.where is not None:
        expect_bool(c.where, Scope(frozenset({family_of(c.pattern)}), out=out), "the `where` of `until`")


def _add(out: list[Diagnostic], d: Diagnostic | None) -> None:
    if d is not None:
        out.append(d)
