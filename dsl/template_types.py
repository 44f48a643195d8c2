"""What a template reads, checked against the context it will be rendered in.

    diagnostics = check_paths(string, analyse(string.value), usages)

- E207 a name the context does not have (`{{ evnt.x }}`, `{{ _prismatic.NAME }}`) or a
  misspelt `$VARIABLE` (`$INSTANCEID`); W503 a `$WORD` close to no variable (it is sent
  as written);
- E208 a field the context never has: of `monitor`, `alert`, `group` (catalog
  `TEMPLATE_FIELDS`) and of `event` when no event it can be rendered with has it
  (`dsl.template_events`);
- W504 a value that may be missing at send time, read without `| default(…)` or a test:
  an event field some event may lack, any event field of an absence or metric alert,
  `group` when a notification does not go through a group.
Open values (`alert.key.x`, `monitor.labels.x`, `secrets.X`, loop variables, anything
after a computed key) are not judged; a scalar's methods (`alert.status.upper()`) neither.
"""

from __future__ import annotations

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error, warning
from dsl.suggest import closest, did_you_mean
from dsl.template_events import ABSENT, OPEN, OPTIONAL, FieldStatus, event_field
from dsl.template_paths import Dollar, PathUse, TemplateAnalysis
from dsl.template_spans import text_span
from dsl.template_uses import ABSENCE, METRIC, Usage

_CONTEXT_HINT = "templates see " + ", ".join(C.TEMPLATE_VARIABLES) + " and `$` variables"


def check_paths(s: A.String, analysis: TemplateAnalysis, usages: tuple[Usage, ...]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for use in analysis.paths:
        out.extend(_check_use(s, use, usages))
    for dollar in analysis.dollars:
        out.extend(_check_dollar(s, dollar))
    return out


def _span(s: A.String, use: PathUse, parts: int | None = None) -> A.Span:
    return text_span(s, use.start, use.end(len(use.steps) if parts is None else parts))


def _check_use(s: A.String, use: PathUse, usages: tuple[Usage, ...]) -> list[Diagnostic]:
    root, steps = use.root, use.steps
    if root not in C.TEMPLATE_VARIABLES:
        return [error(_span(s, use, 0), "E207", f"unknown template variable `{root}`", _name_hint(root))]
    if root == "event":
        return _check_event(s, use, steps, 0, usages)
    if root == "group":
        return _check_fields(s, use, usages) or _group_missing(s, use, usages)
    if root in C.TEMPLATE_FIELDS:
        return _check_fields(s, use, usages)
    return []  # secrets.NAME: any name


def _check_fields(s: A.String, use: PathUse, usages: tuple[Usage, ...]) -> list[Diagnostic]:
    """`monitor.x`, `alert.x`, `group.x`: one level of known fields; `alert.event.…` is `event.…`."""
    if not use.steps:
        return []
    fields = C.TEMPLATE_FIELDS[use.root]
    step = use.steps[0]
    kind = fields.get(step)
    if kind is None:
        match = closest(step, fields)
        hint = f"did you mean `{use.root}.{match}`?" if match else \
            f"`{use.root}` has " + ", ".join(fields)
        return [error(_span(s, use, 1), "E208", f"unknown template field `{use.dotted(1)}`", hint)]
    if kind == C.EVENT and len(use.steps) > 1:
        return _check_event(s, use, use.steps[1:], 1, usages)
    return []


def _check_event(s: A.String, use: PathUse, steps: tuple[str, ...], offset: int,
                 usages: tuple[Usage, ...]) -> list[Diagnostic]:
    """`event.<steps>` (`offset` steps into the path, 1 for `alert.event.…`)."""
    if not steps:
        return []
    statuses = [(u, _usage_status(steps, u)) for u in usages] or [(None, event_field(steps, None))]
    absent = [st for _, st in statuses if st.status == ABSENT]
    if len(absent) == len(statuses):
        first = absent[0]
        parts = offset + first.at + 1
        return [error(_span(s, use, parts), "E208", f"unknown template field `{use.dotted(parts)}`",
                      first.hint)]
    if use.guarded:
        return []
    for usage, st in statuses:
        if usage is not None and st.status in (OPTIONAL, ABSENT):
            return [warning(_span(s, use), "W504", _missing_message(use, steps, usage, st),
                            _missing_hint(use, steps, usage))]
    return []


def _usage_status(steps: tuple[str, ...], usage: Usage) -> FieldStatus:
    """The status over the usage's families (absent only if absent in every one), then
    weakened by the trigger: without an event, nothing is there."""
    per_family = [event_field(steps, f) for f in sorted(usage.families)] or [event_field(steps, None)]
    known = [st for st in per_family if st.status != ABSENT]
    if not known:
        return per_family[0]
    if usage.trigger in (ABSENCE, METRIC):
        return FieldStatus(OPTIONAL)
    for wanted in (OPTIONAL, OPEN):
        if any(st.status == wanted for st in known):
            return FieldStatus(wanted)
    return known[0]


def _missing_message(use: PathUse, steps: tuple[str, ...], usage: Usage, st: FieldStatus) -> str:
    who = f'monitor "{usage.monitor}"'
    if usage.trigger == METRIC:
        why = f"{who} is a metric monitor, whose alerts carry no event"
    elif usage.trigger == ABSENCE:
        why = f"{who} is an absence monitor: its alert has no event until the awaited one arrives"
    elif st.status == ABSENT:
        why = f"the events of {who} never have it"
    else:
        families = ", ".join(f"{f}.*" for f in sorted(usage.families))
        why = f"{families} events need not carry `{'.'.join(steps[:2])}` ({who})"
    return f"`{use.dotted()}` may be missing: {why}"


def _missing_hint(use: PathUse, steps: tuple[str, ...], usage: Usage) -> str:
    hint = f'write `{{{{ {use.dotted()} | default("…") }}}}`'
    var = C.PRISMATIC_EVENT_FIELDS.get(".".join(steps))
    if var is not None:
        hint += f", or `${var}`, which falls back to the alert's key"
    elif usage.trigger == METRIC:
        hint += ", or `alert.key.…` for a field the monitor is `by`"
    return hint


def _group_missing(s: A.String, use: PathUse, usages: tuple[Usage, ...]) -> list[Diagnostic]:
    direct = [u for u in usages if u.through_group is False]
    if use.guarded or not direct:
        return []
    return [warning(_span(s, use), "W504",
                    f'`{use.dotted()}` may be missing: monitor "{direct[0].monitor}" sends it '
                    "without a group, and then `group` is empty",
                    f'write `{{{{ {use.dotted()} | default("…") }}}}`, or `{{% if group %}}…{{% endif %}}`')]


def _name_hint(name: str) -> str:
    """The context name it resembles, the event field it names, or the `$` variable."""
    if name == "_prismatic":
        return "write Prismatic variables as `$NAME`"
    if name in C.PRISMATIC_VARIABLES:
        return f"did you mean `${name}`?"
    if name in C.ENVELOPE_SCALARS or name in C.ENVELOPE_OBJECTS or name == "data":
        return f"did you mean `event.{name}`?"
    return did_you_mean(name, C.TEMPLATE_VARIABLES) or _CONTEXT_HINT


def _check_dollar(s: A.String, dollar: Dollar) -> list[Diagnostic]:
    if dollar.name in C.PRISMATIC_VARIABLES:
        return []
    known = ["$" + v for v in C.PRISMATIC_VARIABLES]
    span = text_span(s, dollar.start, dollar.end)
    word = "$" + dollar.name
    hint = did_you_mean(word, known)
    if hint is not None:
        return [error(span, "E207", f"unknown variable `{word}`", hint)]
    return [warning(span, "W503", f"`{word}` is not a variable and is sent as written",
                    "known: " + " ".join(known) + '; write `{{ "$" }}` for a literal `$`')]
