"""The checker's Python API: `check`, `load` and the `RuleSet` it builds."""

from __future__ import annotations

from dsl import check, load, parse
from dsl.channels.pagerduty import PAGERDUTY_EVENTS_URL, PagerDutyChannel
from dsl.channels.slack import SlackChannel
from dsl.channels.webhook import WebhookChannel
from dsl.diagnostics import Diagnostic

CHANNELS = '''
webhook "PagerDuty" {
  url "https://events.pagerduty.com/v2/enqueue"
  method put
  header "Authorization" "Token token={{ secrets.PD_TOKEN }}"
  header "X-Team" "ops"
  timeout 5s
  signing_secret "{{ secrets.HOOK_KEY }}"
  payload { "routing_key": "{{ secrets.PD }}", "n": -1.5, "ok": true, "x": null, "l": [1, "a"] }
}
slack "ops" { url "{{ secrets.SLACK }}" text "{{ monitor.name }}" blocks [{ "type": "divider" }] timeout 500ms }
pagerduty "core" { routing_key "{{ secrets.PD_ROUTING_KEY }}" }
group "DevOps" {
  email "ana@example.com", "bo@example.com"
  sms "+1 (415) 555-0100"
  webhook "PagerDuty"
  slack "ops"
}
schedule "maintenance" { days sat, sun  hours 01:00-03:00, 22:00-23:00  timezone "Europe/Berlin" }
schedule "weekdays" { days mon-fri }
'''

MONITORS = '''
when execution.failed notify group "DevOps" mute during "weekdays"
monitor "Slow" when execution.duration >= 10s on flow "Sync" notify pagerduty "core" mute during "maintenance"
'''


def _codes(diagnostics: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diagnostics]


def test_load_builds_every_field():
    ruleset, diagnostics = load({"channels.rules": CHANNELS, "monitors.rules": MONITORS})
    assert diagnostics == []
    hook = ruleset.channels[("webhook", "PagerDuty")]
    assert hook == WebhookChannel(
        name="PagerDuty", url="https://events.pagerduty.com/v2/enqueue", method="PUT",
        headers=(("Authorization", "Token token={{ secrets.PD_TOKEN }}"), ("X-Team", "ops")),
        timeout=5.0, signing_secret="{{ secrets.HOOK_KEY }}",
        payload={"routing_key": "{{ secrets.PD }}", "n": -1.5, "ok": True, "x": None, "l": [1, "a"]})
    assert ruleset.channels[("slack", "ops")] == SlackChannel(
        name="ops", url="{{ secrets.SLACK }}", text="{{ monitor.name }}", blocks=[{"type": "divider"}], timeout=0.5)
    assert ruleset.channels[("pagerduty", "core")] == PagerDutyChannel(
        name="core", routing_key="{{ secrets.PD_ROUTING_KEY }}", url=PAGERDUTY_EVENTS_URL, timeout=10.0)
    assert ruleset.groups["DevOps"].members == (
        ("email", "ana@example.com"), ("email", "bo@example.com"), ("sms", "+14155550100"),
        ("webhook", "PagerDuty"), ("slack", "ops"))
    maintenance = ruleset.schedules["maintenance"]
    assert (maintenance.days, maintenance.hours, maintenance.timezone) == (
        frozenset({5, 6}), ((60, 180), (1320, 1380)), "Europe/Berlin")
    weekdays = ruleset.schedules["weekdays"]
    assert (weekdays.days, weekdays.hours, weekdays.timezone) == (frozenset({0, 1, 2, 3, 4}), (), "UTC")


def test_load_names_monitors_and_keeps_their_source():
    ruleset, _ = load({"channels.rules": CHANNELS, "monitors.rules": MONITORS})
    first, slow = ruleset.monitors
    assert (first.name, first.file, first.line) == ("execution.failed", "monitors.rules", 2)
    assert (slow.name, ruleset.monitor("Slow")) == ("Slow", slow)
    assert first.source.startswith("when execution.failed")
    assert slow.source.startswith('monitor "Slow" when execution.duration >= 10s')


def test_load_refuses_errors_but_not_warnings():
    ruleset, diagnostics = load({"a.rules": 'group "G" { email "a@example.com" }\nwhen execution.failed notify group "H"'})
    assert ruleset is None
    assert [d.code for d in diagnostics] == ["W501", "E101"]
    ruleset, diagnostics = load({"a.rules": 'group "G" { email "a@example.com" }\nwhen execution.failed notify email "b@example.com"'})
    assert ruleset is not None and [d.code for d in diagnostics] == ["W501"]


def test_load_includes_syntax_errors_and_checks_the_rest():
    ruleset, diagnostics = load({"a.rules": 'when execution.failed notify\nwhen execution.faild'})
    assert ruleset is None
    assert [d.code for d in diagnostics] == ["E001", "E201"]


def test_references_resolve_across_files():
    files = [parse('group "DevOps" { email "a@example.com" }', "a.rules")[0],
             parse('when execution.failed notify group "DevOps"', "b.rules")[0]]
    assert check(files, context=None) == []
    assert _codes(check(files[1:])) == [("E101", 1, 36)]


def test_unknown_group_points_at_the_name_with_a_hint():
    files = [parse('group "DevOps" { email "a@example.com" }\nwhen execution.failed notify group "DevOp"', "ops.rules")[0]]
    [unused, unknown] = check(files)
    assert unused.code == "W501"
    assert unknown.to_dict() == {
        "file": "ops.rules", "line": 2, "column": 36, "end_line": 2, "end_column": 43,
        "severity": "error", "code": "E101", "message": 'unknown group "DevOp"',
        "hint": 'did you mean "DevOps"?'}


def test_channel_reference_of_the_wrong_kind_names_the_right_one():
    rf = parse('slack "ops" { url "https://x.example.com" }\nwhen execution.failed notify webhook "ops"', "a.rules")[0]
    [d] = [d for d in check([rf]) if d.code == "E102"]
    assert d.hint == '"ops" is a slack channel: write `slack "ops"`'


def test_duplicate_derived_names_ask_for_a_name():
    rf = parse("when execution.failed\nwhen execution.failed severity critical", "a.rules")[0]
    [d] = check([rf])
    assert (d.code, d.span.line, d.span.column) == ("E104", 2, 1)
    assert "execution.failed" in d.message and 'monitor "NAME"' in d.hint


def test_group_and_channel_may_share_a_name():
    text = 'webhook "X" { url "https://x.example.com" }\ngroup "X" { webhook "X" }\nwhen execution.failed notify group "X"'
    assert check([parse(text, "a.rules")[0]]) == []


def test_bare_words_are_level_constants():
    ok = parse('when log.level >= warn where level != debug and level in [error, fatal]', "a.rules")[0]
    assert check([ok]) == []
    bad = parse('when log.level >= wran', "a.rules")[0]
    [d] = check([bad])
    assert (d.code, d.span.column, d.hint) == ("E301", 19, "did you mean `warn`?")


def test_durations_compare_with_numbers_and_percent_with_ratios():
    text = ("when execution.duration > 12.5\n"
            "when count(execution.failed) / count(execution.*) > 10% and avg(duration of execution.completed) > 3 over 1h")
    assert check([parse(text, "a.rules")[0]]) == []


def test_field_resolution_uses_the_trigger_family():
    assert check([parse('when execution.failed where duration > 10s', "a.rules")[0]]) == []
    [d] = check([parse('when connection.error where name > 10s', "a.rules")[0]])
    assert d.code == "E301"  # `name` is connection.name, a string


def test_custom_families_and_data_fields_are_open():
    rf = parse('when customer.login_failed where ip == "1.2.3.4" and data.x.y > 3 and event.data.z == 1', "a.rules")[0]
    assert check([rf]) == []


def test_every_problem_is_reported_sorted_and_once():
    text = 'when execution.faild severity urgent\nwhen log.level >= 5 every 0s'
    diagnostics = check([parse(text, "a.rules")[0]])
    assert _codes(diagnostics) == [("E201", 1, 6), ("E205", 1, 31), ("E301", 2, 19), ("E306", 2, 27)]


def test_via_on_group_is_fine_and_email_selects_contacts():
    text = ('group "G" { email "a@example.com" sms "+15550100" }\n'
            'when execution.failed notify group "G" via email, sms')
    assert check([parse(text, "a.rules")[0]]) == []


def test_webhook_url_may_be_a_whole_or_partial_template():
    text = ('webhook "A" { url "{{ secrets.URL }}" }\nwebhook "B" { url "https://x.example.com/{{ secrets.P }}" }\n'
            'when execution.failed notify webhook "A", webhook "B"')
    assert check([parse(text, "a.rules")[0]]) == []


def test_templates_unknown_filters_and_variables():
    text = ('when execution.failed message "{{ monitor.name | upcase }}"\n'
            'when execution.completed message "{{ evnt.flow }} and $FLOWW"')
    diagnostics = check([parse(text, "a.rules")[0]])
    assert [(d.code, d.span.line, d.span.column, d.span.end_column) for d in diagnostics] == [
        ("E308", 1, 31, 60), ("E207", 2, 38, 42), ("E207", 2, 55, 61)]
    assert diagnostics[0].message == "template error: No filter named 'upcase'."
    assert [d.hint for d in diagnostics[1:]] == ["did you mean `event`?", "did you mean `$FLOW`?"]
