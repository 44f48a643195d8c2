"""Templates checked against the context they are rendered in, with the trigger known.

The vocabulary the checker uses (`dsl.catalog`) is held against what delivery and the
service actually build; then the checks themselves: E207, E208, W503, W504 and W505.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import CODES, ENVIRONMENT_CODES
from dsl.template_environment import TemplateEnvironment
from dsl.template_paths import analyse, analysis_env
from dsl.template_types import check_paths

AT = datetime(2026, 11, 22, 7, 30, tzinfo=timezone.utc)
HOOK = 'webhook "Hook" { url "https://hooks.example.com/x" }\n'


def lint(text: str, context: TemplateEnvironment | None = None) -> list[tuple]:
    """(code, line, column, end_column) of every diagnostic that is not W501."""
    _, diagnostics = dsl.load({"t.rules": text}, context=context)
    return [(d.code, d.span.line, d.span.column, d.span.end_column) for d in diagnostics if d.code != "W501"]


def codes(text: str, context: TemplateEnvironment | None = None) -> list[str]:
    return [c for c, *_ in lint(text, context)]


def diagnostic(text: str, code: str):
    _, diagnostics = dsl.load({"t.rules": text})
    (d,) = [d for d in diagnostics if d.code == code]
    return d


def message(template: str, trigger: str = "execution.failed", notify: str = 'notify webhook "Hook"') -> str:
    return HOOK + f'monitor "m" when {trigger} {notify} message "{template}"\n'


# ------------------------------------------------------------- one vocabulary


def _delivery_context(event: dict | None, *, group: bool):
    from delivery.context import build_context
    from delivery.request import build_requests
    from engine.model import AlertEvent, Destination

    ruleset, diagnostics = dsl.load({"t.rules": 'group "G" { email "a@example.com" }\n'
                                     'monitor "m" when execution.failed notify group "G"\n'})
    assert ruleset is not None, diagnostics
    destination = Destination("email", "a@example.com", "G" if group else None)
    alert_event = AlertEvent("ae1", "al1", "m", {"flow": "Sync"}, "fired", AT, "error",
                             (destination,), event=event, fired_at=AT)
    (request,) = build_requests(alert_event, ruleset, public_url="https://tocsin.example")
    return request, build_context(request, None)


def test_the_catalog_names_exactly_what_delivery_puts_in_the_context():
    _, context = _delivery_context({"id": "e", "type": "execution.failed", "time": "t"}, group=True)
    assert set(context) - {"_prismatic"} == set(C.TEMPLATE_VARIABLES)
    for name, fields in C.TEMPLATE_FIELDS.items():
        assert set(context[name]) == set(fields), name
    assert set(context["_prismatic"]) == set(C.PRISMATIC_VARIABLES)
    _, outside = _delivery_context(None, group=False)
    assert outside["group"] is None and outside["event"] == {}


@pytest.mark.parametrize("path, variable", sorted(C.PRISMATIC_EVENT_FIELDS.items()))
def test_each_dollar_variable_named_in_hints_holds_that_event_field(path, variable):
    event: dict = {"id": "e", "type": "execution.failed", "time": "t"}
    head, _, sub = path.partition(".")
    event[head] = {sub: "VALUE"} if sub else "VALUE"
    _, context = _delivery_context(event, group=False)
    assert context["_prismatic"][variable] == "VALUE"


def test_the_envelope_is_what_the_service_accepts():
    from service.events_model import Event

    model = Event.model_fields
    envelope = {*C.EVENT_ALWAYS, *C.ENVELOPE_SCALARS, *C.ENVELOPE_OBJECTS, "data"}
    assert set(model) == envelope
    for name, fields in C.ENVELOPE_OBJECTS.items():
        sub = model[name].annotation.__args__[0]  # `Instance | None`
        assert set(sub.model_fields) == set(fields), name
    required = {name for name, f in model.items() if f.is_required()}
    assert required <= set(C.EVENT_ALWAYS)  # and `time` is filled in when it is missing


def test_the_service_events_carry_the_data_the_catalog_promises():
    from delivery.events import notification_event
    from engine.model import AlertEvent
    from engine.faults import MonitorFault
    from service.monitor_errors import error_event
    from service.outbox import emitted_event

    alert_event = AlertEvent("ae1", "al1", "m", {"flow": "Sync"}, "fired", AT, "error")
    fired = emitted_event(alert_event, "alert.fired")
    request, _ = _delivery_context(None, group=False)
    sent = notification_event(request, "sent", None, 200, AT)
    fault = MonitorFault("m", "sig", "OverflowError: too big", "event", 0, "ev-1")
    failed = error_event(fault, file="a.rules", line=3)
    for family, event in (("alert", fired), ("notification", sent), ("monitor", failed)):
        assert set(event["data"]) == set(C.FAMILY_FIELDS[family]), family
        assert set(event["caused_by"]) == set(C.SERVICE_ENVELOPE_OBJECTS["caused_by"])
        assert event["source"] and event["type"].startswith(family + ".")
        assert set(C.EVENT_ALWAYS) <= set(event)


def test_lint_parses_templates_with_the_filters_tests_and_globals_of_the_send_time_sandbox():
    from delivery.templates import lenient_sandbox

    sandbox, lint_env = lenient_sandbox(), analysis_env()
    assert set(lint_env.filters) == set(sandbox.filters)
    assert set(lint_env.tests) == set(sandbox.tests)
    assert set(lint_env.globals) == {g for g in sandbox.globals if not g.startswith("_tocsin")}


def test_environment_codes_are_catalogued():
    assert ENVIRONMENT_CODES <= set(CODES)


# ------------------------------------------------------------ E207, E208, W503


@pytest.mark.parametrize("template, hint", [
    ("{{ evnt.flow | default('') }}", "did you mean `event`?"),
    ("{{ instance.name }}", "did you mean `event.instance`?"),
    ("{{ FLOW }}", "did you mean `$FLOW`?"),
    ("{{ _prismatic.NAME }}", "write Prismatic variables as `$NAME`"),
    ("{{ lipsum() }}", "templates see monitor, alert, event, group, secrets and `$` variables"),
    ("$INSTANCEID", "did you mean `$INSTANCE_ID`?"),
])
def test_unknown_names_are_errors_with_a_hint(template, hint):
    d = diagnostic(message(template), "E207")
    assert d.is_error and d.hint == hint


@pytest.mark.parametrize("template, path, hint", [
    ("{{ monitor.nmae }}", "monitor.nmae", "did you mean `monitor.name`?"),
    ("{{ alert.sttus }}", "alert.sttus", "did you mean `alert.status`?"),
    ("{{ group.nme | default('') }}", "group.nme", "did you mean `group.name`?"),
    ("{{ alert.event.messge | default('') }}", "alert.event.messge", "did you mean `event.message`?"),
    ("{{ event.instance.nmae | default('') }}", "event.instance.nmae", "did you mean `event.instance.name`?"),
    ("{{ event.duration }}", "event.duration", "did you mean `event.execution.duration`? "
                                               "(a condition's `duration` is that field)"),
    ("{{ event.zzz }}", "event.zzz", "custom fields live under `event.data`: `event.data.zzz`"),
])
def test_fields_the_context_never_has_are_errors(template, path, hint):
    d = diagnostic(message(template), "E208")
    assert d.message == f"unknown template field `{path}`" and d.hint == hint


def test_open_values_are_not_judged():
    template = ("{{ alert.key.anything }} {{ alert.labels.x }} {{ monitor.labels.team }} {{ alert.value }} "
                "{{ secrets.ANY_NAME }} {{ alert.status.upper() }} {{ event.data.x | default('') }} "
                "{% for m in group.members %}{{ m.whatever }}{{ loop.index }}{% endfor %} "
                "{% set e = alert %}{{ e.nope }} {{ secrets[alert.id] }} {{ range(2) | list }}")
    assert lint(message(template, notify='notify group "G"') + 'group "G" { email "a@example.com" }\n') == []


def test_a_dollar_word_close_to_no_variable_is_a_warning():
    d = diagnostic(message("costs $USD, see $URL"), "W503")
    assert not d.is_error and "sent as written" in d.message
    assert codes(message('costs {{ \\"$\\" }}USD')) == []


# --------------------------------------------------------------------- W504


@pytest.mark.parametrize("template", [
    "{{ event.message | default('none') }}",
    "{{ event.message | d('none') }}",
    "{{ event.message | upper | default('none') }}",
    "{% if event.message %}{{ event.message }}{% endif %}",
    "{% if not event.message %}none{% else %}{{ event.message }}{% endif %}",
    "{{ event.message if event.message else 'none' }}",
    "{{ event.message or 'none' }}",
    "{{ event.message is defined }}",
    "{% for x in event.data.items | default([]) %}{{ x }}{% endfor %}",
    "{{ event.id }} {{ event.type }} {{ event.time }}",
])
def test_values_a_template_copes_without_are_not_reported(template):
    assert codes(message(template)) == []


def test_an_optional_event_field_read_bare_is_a_warning_with_the_default_hint():
    d = diagnostic(message("Failed: {{ event.message }}"), "W504")
    assert not d.is_error
    assert d.message == ('`event.message` may be missing: execution.* events need not carry `message` '
                         '(monitor "m")')
    assert d.hint == 'write `{{ event.message | default("…") }}`'
    assert (d.span.line, d.span.column, d.span.end_column) == (2, 77, 90)


def test_an_if_on_another_field_guards_nothing():
    assert codes(message("{% if event.flow %}{{ event.message }}{% endif %}")) == ["W504"]


def test_the_dollar_variable_is_offered_where_one_holds_the_field():
    d = diagnostic(message("{{ event.instance.name }}"), "W504")
    assert "`$INSTANCE`, which falls back to the alert's key" in d.hint


def test_absence_alerts_may_have_no_event_at_all():
    text = message("{{ event.id }}", trigger="no execution.completed within 1h")
    d = diagnostic(text, "W504")
    assert "absence monitor" in d.message


def test_metric_alerts_have_no_event():
    d = diagnostic(message("{{ event.flow }}", trigger="count(execution.failed) > 5 over 10m by flow"), "W504")
    assert d.message == ('`event.flow` may be missing: monitor "m" is a metric monitor, '
                         "whose alerts carry no event")
    d = diagnostic(message("{{ event.data.x }}", trigger="count(order.placed) > 5 over 10m"), "W504")
    assert "`alert.key.…`" in d.hint


def test_custom_events_are_the_senders_contract():
    assert codes(message("{{ event.data.total }} {{ event.flow }} {{ event.customer.name }}",
                         trigger="order.placed")) == []
    assert codes(message("{{ event.total }} {{ event.customer.nmae }}", trigger="order.placed")) == ["E208", "E208"]


def test_the_services_own_events_always_carry_their_data():
    assert codes(message("{{ event.data.monitor }} {{ event.data.key }} {{ event.caused_by.depth }} "
                         "{{ event.source }}", trigger="alert.fired")) == []
    assert codes(message("{{ event.data.whatever }}", trigger="notification.failed")) == ["W504"]
    assert codes(message("{{ event.caused_by.monitors }}", trigger="execution.failed")) == ["E208"]


def test_comparison_triggers_carry_their_family_event():
    assert codes(message("{{ event.level }}", trigger="log.level >= error")) == ["W504"]
    d = diagnostic(message("{{ event.log.level }}", trigger="log.level >= error"), "E208")
    assert d.hint.startswith("did you mean `event.level`?")


GROUP = 'group "G" { email "a@example.com" webhook "Hook" }\n'


def test_group_is_missing_when_a_notification_skips_the_group():
    through = GROUP + message("{{ group.name }}", notify='notify group "G"')
    assert codes(through) == []
    direct = GROUP + message("{{ group.name }}", notify='notify group "G" notify email "b@example.com"')
    d = diagnostic(direct, "W504")
    assert d.message == ('`group.name` may be missing: monitor "m" sends it without a group, '
                         "and then `group` is empty")
    assert codes(GROUP + message("{% if group %}{{ group.name }}{% endif %}", notify='notify email "b@example.com"')) == []


def test_a_channel_is_checked_with_every_monitor_that_notifies_it():
    channel = 'webhook "Hook" { url "https://hooks.example.com/x" payload { "m": "{{ event.data.monitor }}" } }\n'
    alerts = 'monitor "a" when alert.fired notify webhook "Hook"\n'
    assert codes(channel + alerts) == []
    failures = 'monitor "b" when execution.failed notify group "G"\ngroup "G" { webhook "Hook" }\n'
    d = diagnostic(channel + alerts + failures, "W504")
    assert 'monitor "b"' in d.message and d.span.line == 1
    never = channel.replace("data.monitor", "caused_by.depth")
    assert codes(never + failures) == ["E208"]  # no monitor's events have it
    assert codes(never + alerts + failures) == ["W504"]  # one monitor's events do


def test_an_unused_channel_is_checked_without_a_trigger():
    unused = 'webhook "Spare" { url "https://x.example.com/" payload { "a": "{{ event.message }} {{ event.nope }}" } }\n'
    assert codes(unused) == ["E208"]


def test_escalation_routes_count():
    text = (GROUP + 'webhook "Pager" { url "https://p.example.com/" payload { "f": "{{ event.flow }}" } }\n'
            'monitor "m" when no execution.completed within 1h notify email "b@example.com" '
            'escalate to webhook "Pager" after 1h\n')
    assert "absence monitor" in diagnostic(text, "W504").message


# ------------------------------------------------------------------ positions


def test_positions_point_at_the_path_inside_the_string():
    text = 'monitor "m" when execution.failed message "x {{ monitor.nmae }} {{ evnt.y }}"\n'
    assert lint(text) == [("E208", 1, 49, 61), ("E207", 1, 68, 72)]


def test_positions_fall_back_to_the_string_when_escapes_shift_them():
    text = 'monitor "m" when execution.failed message "\\"{{ monitor.nmae }}\\""\n'
    assert lint(text) == [("E208", 1, 43, 67)]


def test_positions_in_a_triple_quoted_string():
    text = 'monitor "m" when execution.failed message """first line\n  then {{ alert.sttus }}\n"""\n'
    _, diagnostics = dsl.load({"t.rules": text})
    (d,) = diagnostics
    assert (d.code, d.span.line, d.span.column, d.span.end_line, d.span.end_column) == ("E208", 2, 11, 2, 22)


def test_bracket_steps_are_located_too():
    text = 'monitor "m" when execution.failed message "{{ monitor[\'nmae\'] }}"\n'
    assert lint(text) == [("E208", 1, 47, 62)]


# ----------------------------------------------------------------------- W505


def test_secrets_missing_from_the_environment_are_warnings_only_with_one():
    text = ('webhook "Hook" { url "https://h.example.com/{{ secrets.PATH }}" '
            'header "Authorization" "Bearer {{ secrets.TOKEN }} {{ secrets[alert.id] }}" }\n'
            'monitor "m" when execution.failed notify webhook "Hook"\n')
    assert codes(text) == []  # `tocsin lint`: the rule text alone
    assert codes(text, TemplateEnvironment(secrets={"PATH", "TOKEN"})) == []
    assert lint(text, TemplateEnvironment(secrets={"PATH"})) == [("W505", 1, 99, 112)]
    d = [d for d in dsl.load({"t.rules": text}, context=TemplateEnvironment(secrets=set()))[1]]
    assert [x.code for x in d] == ["W505", "W505"]
    assert d[1].hint == "set TOCSIN_SECRET_TOKEN, or TOKEN in the file TOCSIN_SECRETS_FILE names"


# ---------------------------------------------------------- never evaluated


def test_checking_types_never_evaluates_a_template():
    hostile = "{{ (((10**64)**64)**64)**64 > event.flow }} {{ 'x' | center(10**9) }} {{ [[0] * 60000] * 60000 }}"
    started = time.thread_time()
    assert codes(message(hostile)) == ["W504"]
    assert time.thread_time() - started < 2.0


def test_analysis_is_cached_per_text():
    assert analyse("{{ event.flow }}") is analyse("{{ event.flow }}")


# ----------------------------------------------------------------- any text

_PIECES = st.sampled_from([
    "{{ ", " }}", "{% if ", " %}", "{% endif %}", "{% for x in ", "{% endfor %}", "{# c #}", "{{- ", " -}}",
    "event", "monitor", "alert", "group", "secrets", "evnt", ".", "[", "]", "'message'", "(", ")", "|",
    " default('x')", " upper", " or ", " and ", " if ", " else ", "$FLOW", "$NAMEX", "\n", "\r\n", " ",
    "instance", "name", "nmae", "data", "x", "1", "**", "\"", "\\",
])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_PIECES, max_size=30).map("".join) | st.text(max_size=60))
def test_any_text_is_analysed_without_raising_and_paths_point_at_themselves(text):
    analysis = analyse(text)
    for use in analysis.paths:
        if use.start is None:
            continue
        assert len(use.ends) == len(use.steps) + 1
        assert text[use.start:use.ends[0]] == use.root
        assert use.start < use.ends[0] <= use.ends[-1] <= len(text)
    for dollar in analysis.dollars:
        assert text[dollar.start:dollar.end] == "$" + dollar.name
    string = A.String(text, span=A.Span("t.rules", 3, 9, 3, 9 + len(text) + 2))
    check_paths(string, analysis, ())  # no usage: never raises either
