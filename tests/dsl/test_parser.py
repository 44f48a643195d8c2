"""Unit tests of `dsl.parser.parse`: AST shapes, spans, comments and error recovery."""

from __future__ import annotations

import dataclasses

import pytest

from dsl import ast as A
from dsl.parser import parse

# ------------------------------------------------------------------------ helpers


def decls(text: str) -> tuple:
    """The declarations of a text that must parse without any diagnostic."""
    rule_file, diagnostics = parse(text, file="t.rules")
    assert diagnostics == [], [d.to_dict() for d in diagnostics]
    return rule_file.declarations


def monitor(text: str) -> A.Monitor:
    (only,) = decls(text)
    assert isinstance(only, A.Monitor)
    return only


def trigger(text: str):
    return monitor(text).trigger


def where(condition: str):
    """The condition of `when a.b where CONDITION`."""
    (clause,) = monitor(f"when a.b where {condition}").clauses
    assert isinstance(clause, A.WhereClause)
    return clause.condition


def clause(text: str):
    (only,) = monitor(f"when a.b {text}").clauses
    return only


def block(text: str) -> A.Block:
    (only,) = decls(text)
    assert isinstance(only, A.Block)
    return only


def errors(text: str) -> list[dict]:
    _, diagnostics = parse(text, file="bad.rules")
    return [d.to_dict() for d in diagnostics]


def at(span: A.Span) -> tuple[int, int, int, int]:
    return (span.line, span.column, span.end_line, span.end_column)


def P(dotted: str) -> A.Path:  # noqa: N802 - reads like a constructor in expectations
    star = dotted.endswith(".*")
    parts = tuple((dotted[:-2] if star else dotted).split("."))
    return A.Path(parts, star)


def S(value: str) -> A.String:  # noqa: N802
    return A.String(value)


# ----------------------------------------------------------------------- triggers


def test_event_trigger():
    assert trigger("when execution.failed") == A.EventTrigger(P("execution.failed"))


def test_event_trigger_with_star_pattern():
    t = trigger("when execution.*")
    assert t == A.EventTrigger(A.Path(("execution",), star=True))
    assert t.pattern.dotted == "execution.*"


def test_custom_event_family():
    assert trigger("when customer.login_failed") == A.EventTrigger(P("customer.login_failed"))


def test_comparison_trigger_with_duration():
    t = trigger("when execution.duration >= 10s")
    assert t == A.ComparisonTrigger(P("execution.duration"), ">=", A.Duration(10))
    assert t.family == "execution"


def test_comparison_trigger_with_bare_log_level():
    # A bare word on the right side is a path; the checker reads it as the level constant.
    assert trigger("when log.level >= warn") == A.ComparisonTrigger(P("log.level"), ">=", P("warn"))


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparison_trigger_every_operator(op):
    assert trigger(f"when order.total {op} 1000") == A.ComparisonTrigger(P("order.total"), op, A.Number(1000))


def test_comparison_trigger_with_string_operator():
    t = trigger('when connection.error contains "token"')
    assert t == A.ComparisonTrigger(P("connection.error"), "contains", S("token"))


def test_absence_trigger():
    t = trigger("when no execution.completed within 15m")
    assert t == A.AbsenceTrigger(P("execution.completed"), A.Duration(900))


def test_absence_trigger_with_compound_duration_and_star():
    t = trigger("when no execution.* within 1h30m")
    assert t == A.AbsenceTrigger(P("execution.*"), A.Duration(5400))


def test_metric_trigger_count():
    t = trigger("when count(login.failed) > 100 over 5m")
    assert t == A.MetricTrigger(
        A.Compare(">", A.Aggregate("count", P("login.failed")), A.Number(100)), A.Duration(300))


def test_metric_trigger_ratio_and_conjunction():
    t = trigger("when count(execution.failed) / count(execution.*) > 10% "
                "and count(execution.*) >= 20 over 1h")
    ratio = A.Binary("/", A.Aggregate("count", P("execution.failed")), A.Aggregate("count", P("execution.*")))
    expected = A.Binary("and", A.Compare(">", ratio, A.Percent(10)),
                        A.Compare(">=", A.Aggregate("count", P("execution.*")), A.Number(20)))
    assert t == A.MetricTrigger(expected, A.Duration(3600))


def test_metric_trigger_field_aggregate_with_where():
    t = trigger('when p95(duration of execution.completed where flow != "Test") > 2m over 1h')
    agg = A.Aggregate("p95", P("execution.completed"), P("duration"),
                      A.Compare("!=", P("flow"), S("Test")))
    assert t == A.MetricTrigger(A.Compare(">", agg, A.Duration(120)), A.Duration(3600))


@pytest.mark.parametrize("func", A.AGGREGATES)
def test_metric_trigger_every_aggregate(func):
    inner = "order.placed" if func in ("count", "rate") else "total of order.placed"
    t = trigger(f"when {func}({inner}) > 1 over 10m")
    assert isinstance(t, A.MetricTrigger)
    agg = t.condition.left
    assert agg.func == func and agg.pattern == P("order.placed")
    assert agg.field == (None if func in ("count", "rate") else P("total"))


def test_metric_trigger_sums_aggregates():
    t = trigger("when sum(total of order.placed) + avg(total of order.refunded) < 0.5 over 10m")
    assert t.condition == A.Compare(
        "<",
        A.Binary("+", A.Aggregate("sum", P("order.placed"), P("total")),
                 A.Aggregate("avg", P("order.refunded"), P("total"))),
        A.Number(0.5))


def test_aggregate_without_window_is_e403():
    (d,) = errors("when count(login.failed) > 100")
    assert d["code"] == "E403" and "over" in d["hint"]


def test_condition_that_is_no_trigger_is_e403():
    (d,) = errors('when execution.failed and flow == "Sync"')
    assert d["code"] == "E403"
    assert (d["line"], d["column"]) == (1, 6)


# ------------------------------------------------------------------------ clauses


def test_where_clause():
    c = clause('where step == "Fetch" and error contains "timeout"')
    assert c == A.WhereClause(A.Binary("and", A.Compare("==", P("step"), S("Fetch")),
                                       A.Compare("contains", P("error"), S("timeout"))))


@pytest.mark.parametrize("scope", ["flow", "instance", "customer"])
def test_on_clause(scope):
    assert clause(f'on {scope} "A", "B"') == A.OnClause(scope, (S("A"), S("B")))


def test_on_clause_repeats():
    m = monitor('when a.b on flow "Sync" on instance "Acme"')
    assert m.clauses == (A.OnClause("flow", (S("Sync"),)), A.OnClause("instance", (S("Acme"),)))


def test_by_clause():
    assert clause("by instance, flow, data.region") == A.ByClause((P("instance"), P("flow"), P("data.region")))


def test_notify_clause_direct_targets():
    c = clause('notify webhook "PagerDuty", email "ana@example.com", sms "+15550100"')
    assert c == A.NotifyClause((A.Target("webhook", S("PagerDuty")), A.Target("email", S("ana@example.com")),
                                A.Target("sms", S("+15550100"))))


def test_notify_clause_via_kinds_and_channels():
    c = clause('notify group "DevOps" via email, sms, webhook "PagerDuty"')
    assert c == A.NotifyClause((A.Target("group", S("DevOps")),),
                               (A.Via("email"), A.Via("sms"), A.Via("webhook", S("PagerDuty"))))


def test_notify_clause_without_resolved():
    c = clause('notify slack "ops" without resolved')
    assert c == A.NotifyClause((A.Target("slack", S("ops")),), (), True)


def test_notify_clause_via_and_without_resolved():
    c = clause('notify group "G" via email without resolved')
    assert c.via == (A.Via("email"),) and c.without_resolved


def test_every_for_keep_firing():
    m = monitor("when count(a.b) > 1 over 5m every 15m for 2m keep firing for 10m")
    assert m.clauses == (A.EveryClause(A.Duration(900)), A.ForClause(A.Duration(120)),
                         A.KeepFiringClause(A.Duration(600)))


def test_escalate_clause():
    c = clause('escalate to group "Leads", pagerduty "core" after 30m')
    assert c == A.EscalateClause((A.Target("group", S("Leads")), A.Target("pagerduty", S("core"))),
                                 A.Duration(1800))


def test_until_clause_with_where():
    c = clause('until execution.completed where flow == "Sync"')
    assert c == A.UntilClause(P("execution.completed"), A.Compare("==", P("flow"), S("Sync")))


def test_where_before_until_belongs_to_monitor():
    m = monitor('when execution.failed where step == "A" until execution.completed')
    assert m.clauses == (A.WhereClause(A.Compare("==", P("step"), S("A"))),
                         A.UntilClause(P("execution.completed")))


@pytest.mark.parametrize("level", ["info", "warning", "error", "critical"])
def test_severity_clause(level):
    assert clause(f"severity {level}") == A.SeverityClause(level)


def test_message_label_mute_disabled():
    m = monitor('when a.b message "{{ monitor.name }} failed" label team "core" label tier "1" '
                'mute during "maintenance" disabled')
    assert m.clauses == (A.MessageClause(S("{{ monitor.name }} failed")), A.LabelClause("team", S("core")),
                         A.LabelClause("tier", S("1")), A.MuteClause(S("maintenance")), A.DisabledClause())


def test_named_monitor():
    m = monitor('monitor "Sync failed" when execution.failed on flow "Sync"')
    assert m.name == S("Sync failed") and m.trigger == A.EventTrigger(P("execution.failed"))


def test_clauses_in_any_order_and_across_lines():
    m = monitor('when execution.failed\n  severity critical\n  notify group "G"\n  on flow "X"\n')
    assert [type(c) for c in m.clauses] == [A.SeverityClause, A.NotifyClause, A.OnClause]


def test_whole_monitor_on_one_line_equals_many_lines():
    one = decls('monitor "m" when a.b where x > 1 notify group "G" severity info')
    many = decls('monitor "m"\nwhen a.b\n  where x > 1\n  notify group "G"\n  severity info\n')
    assert one == many


def test_several_monitors_in_a_row():
    ms = decls("when a.b\nwhen c.d severity info\nmonitor \"x\" when e.f")
    assert [m.trigger.pattern.dotted for m in ms] == ["a.b", "c.d", "e.f"]


# -------------------------------------------------------------------- expressions


def test_and_binds_tighter_than_or():
    assert where("a or b and c") == A.Binary("or", P("a"), A.Binary("and", P("b"), P("c")))


def test_not_binds_tighter_than_and():
    assert where("not a and b") == A.Binary("and", A.Unary("not", P("a")), P("b"))


def test_not_of_comparison():
    assert where("not x == 1") == A.Unary("not", A.Compare("==", P("x"), A.Number(1)))


def test_parentheses_group():
    assert where("(a or b) and c") == A.Binary("and", A.Binary("or", P("a"), P("b")), P("c"))


def test_arithmetic_precedence_and_left_associativity():
    assert where("a - b - c * d / e > 1") == A.Compare(
        ">",
        A.Binary("-", A.Binary("-", P("a"), P("b")), A.Binary("/", A.Binary("*", P("c"), P("d")), P("e"))),
        A.Number(1))


def test_in_and_not_in_lists():
    assert where('x in ["a", "b"]') == A.Compare("in", P("x"), A.ListExpr((S("a"), S("b"))))
    assert where("x not in [1, 2]") == A.Compare("not in", P("x"), A.ListExpr((A.Number(1), A.Number(2))))
    assert where("x in []") == A.Compare("in", P("x"), A.ListExpr(()))


@pytest.mark.parametrize("op", ["contains", "startswith", "endswith", "matches"])
def test_string_operators(op):
    assert where(f'message {op} "x"') == A.Compare(op, P("message"), S("x"))


def test_exists():
    assert where("exists data.order_id") == A.Exists(P("data.order_id"))
    assert where("not exists x") == A.Unary("not", A.Exists(P("x")))


def test_negative_literals_fold_into_the_literal():
    assert where("x > -5") == A.Compare(">", P("x"), A.Number(-5))
    assert where("x > -1.5") == A.Compare(">", P("x"), A.Number(-1.5))
    assert where("x > -10%") == A.Compare(">", P("x"), A.Percent(-10))
    assert where("x > -3s") == A.Compare(">", P("x"), A.Duration(-3))


def test_negated_path_stays_unary():
    assert where("-x < 0") == A.Compare("<", A.Unary("-", P("x")), A.Number(0))


def test_booleans_and_null():
    assert where("a == true or b == false or c == null") == A.Binary(
        "or", A.Binary("or", A.Compare("==", P("a"), A.Bool(True)), A.Compare("==", P("b"), A.Bool(False))),
        A.Compare("==", P("c"), A.Null()))


def test_hyphen_inside_a_name_is_part_of_the_identifier():
    # Identifiers may contain `-` (spec); write `x - 1` with spaces to subtract.
    assert where("x-1 > 0") == A.Compare(">", P("x-1"), A.Number(0))
    assert where("x - 1 > 0") == A.Compare(">", A.Binary("-", P("x"), A.Number(1)), A.Number(0))


# ----------------------------------------------------- keywords as field names


@pytest.mark.parametrize("name", ["flow", "level", "message", "step", "instance", "customer"])
def test_envelope_names_are_fields(name):
    assert where(f'{name} == "x"') == A.Compare("==", P(name), S("x"))


@pytest.mark.parametrize("name", ["message", "on", "by", "for", "every", "label", "severity", "to", "no",
                                  "over", "within", "disabled", "resolved", "after", "of"])
def test_keywords_usable_as_field_names_in_conditions(name):
    assert where(f"{name} == 1") == A.Compare("==", P(name), A.Number(1))


def test_keywords_as_fields_on_both_sides_and_in_by():
    assert where("level == message") == A.Compare("==", P("level"), P("message"))
    assert clause("by flow, level, message") == A.ByClause((P("flow"), P("level"), P("message")))


def test_keyword_as_last_path_part():
    assert where('data.message == "x"') == A.Compare("==", P("data.message"), S("x"))


def test_message_after_condition_is_the_clause():
    m = monitor('when a.b where message contains "x" message "hi"')
    assert m.clauses == (A.WhereClause(A.Compare("contains", P("message"), S("x"))), A.MessageClause(S("hi")))


# ----------------------------------------------------------------------- literals


@pytest.mark.parametrize("text, seconds", [
    ("250ms", 0.25), ("10s", 10), ("5m", 300), ("1h", 3600), ("1d", 86400),
    ("1h30m", 5400), ("1d2h3m4s", 93784), ("1.5h", 5400), ("2m30s", 150),
])
def test_durations(text, seconds):
    assert clause(f"every {text}") == A.EveryClause(A.Duration(seconds))


@pytest.mark.parametrize("text, value", [("42", 42), ("3.5", 3.5), ("1e3", 1000.0), ("007", 7)])
def test_numbers(text, value):
    assert where(f"x == {text}") == A.Compare("==", P("x"), A.Number(value))


def test_percent_keeps_the_number_and_ratio():
    p = where("x > 10%").right
    assert p == A.Percent(10) and p.ratio == pytest.approx(0.10)
    assert where("x > 12.5%").right == A.Percent(12.5)


@pytest.mark.parametrize("source, value", [
    (r'"a\"b"', 'a"b'),
    (r'"back\\slash"', "back\\slash"),
    (r'"line\nnext\ttab"', "line\nnext\ttab"),
    (r'"\u00e9t\u00E9"', "été"),
    ('"日本語 ✓ 🚨"', "日本語 ✓ 🚨"),
    ('""', ""),
])
def test_string_escapes_and_unicode(source, value):
    assert clause(f"message {source}").text.value == value


def test_triple_quoted_string_keeps_newlines_and_quotes():
    m = clause('message """first line\n  "quoted" second"""')
    assert m.text.value == 'first line\n  "quoted" second' and m.text.triple


def test_triple_and_plain_strings_compare_equal():
    assert clause('message """abc"""') == clause('message "abc"')


def test_unknown_escape_is_e002_and_parse_goes_on():
    rule_file, diagnostics = parse('when a.b message "bad \\q escape"\nwhen c.d', file="e.rules")
    assert [d.code for d in diagnostics] == ["E002"]
    assert len(rule_file.declarations) == 2


# ------------------------------------------------------------------------- blocks


def test_webhook_block_items():
    b = block('webhook "PagerDuty" {\n  url "https://x.example/"\n  method POST\n  timeout 5s\n'
              '  header "Authorization" "Token {{ secrets.T }}"\n}')
    assert b.kind == "webhook" and b.name == S("PagerDuty")
    assert b.items == (
        A.BlockItem("url", (S("https://x.example/"),)),
        A.BlockItem("method", (A.Word("POST"),)),
        A.BlockItem("timeout", (A.Duration(5),)),
        A.BlockItem("header", (S("Authorization"), S("Token {{ secrets.T }}"))),
    )
    assert [i.key for i in b.items_of("header")] == ["header"]


def test_json_payload():
    b = block('webhook "w" { payload { "a": -1, "b": [1, 2.5, true, false, null, {"c": "$NAME"}], "d": {} } }')
    (item,) = b.items
    assert item.values == (A.JsonObject((
        (S("a"), A.Number(-1)),
        (S("b"), A.JsonArray((A.Number(1), A.Number(2.5), A.Bool(True), A.Bool(False), A.Null(),
                              A.JsonObject(((S("c"), S("$NAME")),))))),
        (S("d"), A.JsonObject(())),
    )),)


def test_json_array_value_for_slack_blocks():
    b = block('slack "s" { url "{{ secrets.S }}" blocks [{ "type": "divider" }] }')
    assert b.items[1] == A.BlockItem("blocks", (A.JsonArray((A.JsonObject(((S("type"), S("divider")),)),)),))


def test_group_block_lists_with_and_without_commas():
    b = block('group "DevOps" { email "a@x.io", "b@x.io" email "c@x.io" "d@x.io" sms "+15550100" '
              'webhook "PagerDuty" slack "ops" }')
    assert b.items[0] == A.BlockItem("email", (S("a@x.io"), S("b@x.io")))
    assert b.items[1] == A.BlockItem("email", (S("c@x.io"), S("d@x.io")))
    assert [i.key for i in b.items] == ["email", "email", "sms", "webhook", "slack"]


def test_schedule_block_words_and_time_ranges():
    b = block('schedule "maintenance" { days sat, sun  hours 01:00-03:00, 22:30 - 23:00  timezone "Europe/Berlin" }')
    assert b.items == (
        A.BlockItem("days", (A.Word("sat"), A.Word("sun"))),
        A.BlockItem("hours", (A.TimeRange(60, 180), A.TimeRange(1350, 1380))),
        A.BlockItem("timezone", (S("Europe/Berlin"),)),
    )


def test_bad_time_of_day_is_e309():
    (d,) = errors('schedule "x" { hours 25:00-03:00 }')
    assert d["code"] == "E309" and (d["line"], d["column"]) == (1, 22)


def test_block_of_any_kind_parses_for_the_checker_to_judge():
    assert block('pagerduty "core" { routing_key "{{ secrets.K }}" }').kind == "pagerduty"
    assert block('gruop "x" { }') == A.Block("gruop", S("x"), ())


def test_blocks_and_monitors_interleave():
    ds = decls('group "G" { email "a@x.io" }\nwhen a.b notify group "G"\nslack "s" { url "u" }')
    assert [type(d) for d in ds] == [A.Block, A.Monitor, A.Block]


# -------------------------------------------------------------------------- spans


def test_spans_of_a_one_line_monitor():
    text = 'when execution.duration >= 10s on flow "Sync"'
    m = monitor(text)
    assert at(m.span) == (1, 1, 1, 46)
    t = m.trigger
    assert at(t.span) == (1, 6, 1, 31)
    assert at(t.field.span) == (1, 6, 1, 24)
    assert at(t.value.span) == (1, 28, 1, 31)
    on = m.clauses[0]
    assert at(on.span) == (1, 32, 1, 46)
    assert at(on.scope_span) == (1, 35, 1, 39)
    assert at(on.values[0].span) == (1, 40, 1, 46)
    assert m.span.file == "t.rules"


def test_spans_of_a_multi_line_monitor():
    text = ('monitor "Failed"\n'
            'when execution.failed\n'
            '  notify group "DevOps" via email\n'
            '  severity critical\n')
    m = monitor(text)
    assert at(m.span) == (1, 1, 4, 20)
    assert at(m.name.span) == (1, 9, 1, 17)
    notify = m.clauses[0]
    assert at(notify.span) == (3, 3, 3, 34)
    assert at(notify.targets[0].span) == (3, 10, 3, 24)
    assert at(notify.targets[0].kind_span) == (3, 10, 3, 15)
    assert at(notify.via[0].span) == (3, 29, 3, 34)
    sev = m.clauses[1]
    assert at(sev.span) == (4, 3, 4, 20) and at(sev.level_span) == (4, 12, 4, 20)


def test_spans_inside_expressions():
    m = monitor('when a.b where x > 1 and count_field contains "zz"')
    cond = m.clauses[0].condition
    assert at(cond.span) == (1, 16, 1, 51)
    assert at(cond.left.span) == (1, 16, 1, 21)
    assert at(cond.right.right.span) == (1, 47, 1, 51)


def test_span_of_negative_literal_covers_the_sign():
    assert at(where("x > -5").right.span) == (1, 20, 1, 22)


def test_spans_of_aggregate():
    t = trigger("when avg(duration of execution.completed) > 30s over 15m")
    agg = t.condition.left
    assert at(agg.span) == (1, 6, 1, 42)
    assert at(agg.func_span) == (1, 6, 1, 9)
    assert at(agg.field.span) == (1, 10, 1, 18)
    assert at(agg.pattern.span) == (1, 22, 1, 41)
    assert at(t.window.span) == (1, 54, 1, 57)


def test_span_of_a_multi_line_string():
    m = monitor('when a.b\nmessage """one\ntwo"""\nseverity info')
    text = m.clauses[0].text
    assert at(text.span) == (2, 9, 3, 7)
    assert at(m.clauses[1].span) == (4, 1, 4, 14)


def test_spans_of_block_parts():
    b = block('group "G" {\n  email "a@x.io", "b@x.io"\n}')
    assert at(b.span) == (1, 1, 3, 2)
    assert at(b.kind_span) == (1, 1, 1, 6)
    assert at(b.name.span) == (1, 7, 1, 10)
    item = b.items[0]
    assert at(item.span) == (2, 3, 2, 27)
    assert at(item.key_span) == (2, 3, 2, 8)
    assert at(item.values[1].span) == (2, 19, 2, 27)


def test_rule_file_span_covers_the_text():
    rule_file, _ = parse("when a.b\nwhen c.d\n", file="f.rules")
    assert at(rule_file.span) == (1, 1, 3, 1)
    assert rule_file.file == "f.rules"


def test_spans_equal_with_and_without_recovery():
    good = 'group "G" { email "a@x.io" }\n\nmonitor "m"\nwhen a.b where x > 1\n  notify group "G"\n'
    fast, _ = parse(good, file="f.rules")
    recovered, diagnostics = parse(good + "when oops ==\n", file="f.rules")
    assert len(diagnostics) == 1
    assert recovered.declarations == fast.declarations
    assert _all_spans(recovered.declarations) == _all_spans(fast.declarations)


def _all_spans(node) -> list:
    out: list = []
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, A.Span):
                out.append((type(node).__name__, f.name, value))
            else:
                out.extend(_all_spans(value))
    elif isinstance(node, tuple):
        for item in node:
            out.extend(_all_spans(item))
    return out


# ----------------------------------------------------------------------- comments


def test_comments_are_collected_with_spans():
    text = '# header\nwhen a.b # trailing\n  severity info\n# "not a string"\n'
    rule_file, diagnostics = parse(text, file="c.rules")
    assert diagnostics == []
    assert [c.text for c in rule_file.comments] == ["# header", "# trailing", '# "not a string"']
    assert [at(c.span) for c in rule_file.comments] == [(1, 1, 1, 9), (2, 10, 2, 20), (4, 1, 4, 17)]


def test_hash_inside_a_string_is_no_comment():
    rule_file, _ = parse('when a.b message "issue #42"', file="c.rules")
    assert rule_file.comments == ()
    assert rule_file.declarations[0].clauses[0].text.value == "issue #42"


def test_comments_are_collected_when_recovering():
    rule_file, diagnostics = parse("# one\nwhen a.b ==\n# two\nwhen c.d\n", file="c.rules")
    assert len(diagnostics) == 1
    assert [(c.text, c.span.line) for c in rule_file.comments] == [("# one", 1), ("# two", 3)]


def test_comments_and_blank_text():
    assert parse("", file="e.rules")[0].declarations == ()
    rule_file, diagnostics = parse("# only a comment\n\n", file="e.rules")
    assert diagnostics == [] and rule_file.declarations == () and len(rule_file.comments) == 1


# ---------------------------------------------------------------- error recovery


def test_each_broken_declaration_gets_its_own_error():
    text = (
        'group "G" { email "a@x.io" }\n'             # 1 good
        'when execution.failed where step = "x"\n'   # 2 `=` is no operator
        "when log.level >= warn\n"                    # 3 good
        'when a.b notify group "G" via\n'            # 4 via needs a kind
        'slack "s" { url "u" }\n'                     # 5 good
        'monitor "m" when a.b every\n'               # 6 every needs a duration
        'when c.d severity info\n'                    # 7 good
    )
    rule_file, diagnostics = parse(text, file="r.rules")
    # Each declaration is parsed alone, so a cut-short one is reported where it ends.
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [
        ("E001", 2, 34), ("E001", 4, 30), ("E001", 6, 27)]
    assert all(d.span.file == "r.rules" and d.is_error for d in diagnostics)
    kinds = [(type(d).__name__, d.span.line) for d in rule_file.declarations]
    assert kinds == [("Block", 1), ("Monitor", 3), ("Block", 5), ("Monitor", 7)]


def test_error_message_says_what_was_expected():
    (d,) = errors("when execution.failed every")
    assert d["code"] == "E001" and "duration" in d["message"]


def test_unexpected_token_span_covers_the_token():
    (d,) = errors("when a.b severity info 42")
    assert d["code"] == "E001" and d["message"].startswith("unexpected `42`")
    assert (d["line"], d["column"], d["end_line"], d["end_column"]) == (1, 24, 1, 26)


def test_unterminated_string():
    text = 'when a.b\n  message "never closed\nwhen c.d\n'
    rule_file, diagnostics = parse(text, file="u.rules")
    (d,) = diagnostics
    assert d.code == "E001" and "unterminated string" in d.message
    assert (d.span.line, d.span.column) == (2, 11)
    assert [m.trigger.pattern.dotted for m in rule_file.monitors] == ["c.d"]


def test_unterminated_triple_quoted_string():
    (d,) = errors('when a.b message """never closed\nwhen c.d\n')
    assert d["code"] == "E001" and "unterminated" in d["message"]
    assert (d["line"], d["column"]) == (1, 18)


@pytest.mark.parametrize("text, bad, column", [
    ("when no execution.completed within 10sec", "10sec", 36),
    ("when a.b every 10mins", "10mins", 16),
    ("when count(a.b) > 1 over 3days", "3days", 26),
    ("when a.b every 1h30", "1h30", 16),
    ('webhook "w" { timeout 10sec }', "10sec", 23),
])
def test_bad_duration_is_e306(text, bad, column):
    (d,) = errors(text)
    assert d["code"] == "E306" and bad in d["message"]
    assert (d["line"], d["column"], d["end_column"]) == (1, column, column + len(bad))
    assert "10s" in d["hint"]


@pytest.mark.parametrize("text, line, column", [
    ("when", 1, 5),
    ("when a.b where", 1, 15),
    ('monitor "m"', 1, 12),
    ('webhook "w" {\n  url "u"\n', 2, 10),
    ("when a.b where (x > 1", 1, 22),
    ("when a.b severity", 1, 18),
])
def test_unexpected_end_of_file(text, line, column):
    (d,) = errors(text)
    assert d["code"] == "E001" and "end of file" in d["message"]
    assert (d["line"], d["column"]) == (line, column)


def test_stray_closing_brace_does_not_hide_the_next_monitor():
    rule_file, diagnostics = parse("}\nwhen a.b", file="s.rules")
    assert [d.code for d in diagnostics] == ["E001"]
    assert len(rule_file.monitors) == 1


def test_good_declarations_after_a_broken_json_payload():
    rule_file, diagnostics = parse('webhook "w" { payload { "a": 1, } }\nwhen c.d\n', file="j.rules")
    (d,) = diagnostics
    assert (d.code, d.span.line, d.span.column) == ("E001", 1, 33)
    assert [m.trigger.pattern.dotted for m in rule_file.monitors] == ["c.d"]


def test_error_in_a_later_file_line_keeps_earlier_monitors():
    lines = [f'monitor "m{i}" when a.b severity info' for i in range(20)]
    lines[13] = 'monitor "m13" when a.b severity'
    rule_file, diagnostics = parse("\n".join(lines), file="l.rules")
    (d,) = diagnostics
    assert (d.span.line, d.span.column) == (14, 32)
    assert len(rule_file.monitors) == 19


def test_diagnostic_positions_are_one_based():
    (d,) = errors("= x")
    assert (d["line"], d["column"]) == (1, 1)


def test_internal_grammar_names_never_reach_messages():
    for text in ["when a.b where x ~ 1", "when a.b = 1", "when a.b where (", "when 1 +", 'x "y" { z ~ }']:
        for d in errors(text):
            assert "__" not in d["message"] and "_star" not in d["message"], (text, d["message"])


def test_cut_short_declaration_mid_file_is_not_end_of_file():
    (d,) = errors("when a.b severity\nwhen c.d\n")
    assert (d["line"], d["column"]) == (1, 18)
    assert "end of file" not in d["message"]


def test_misspelt_clause_keyword_is_pointed_at_with_a_hint():
    (d,) = errors('when a.b notfy group "x"\n')
    assert (d["line"], d["column"], d["end_column"]) == (1, 10, 15)
    assert "notify" in (d["hint"] or "")
