"""The formatter: canonical layout, comments kept, round trip and idempotence."""

from __future__ import annotations

import pytest

from dsl import ast as A
from dsl.formatter import (
    derived_name,
    format_duration,
    format_expr,
    format_file,
    format_string,
    format_text,
)
from dsl.parser import parse


def roundtrip(text: str) -> str:
    rule_file, diagnostics = parse(text, "t.rules")
    assert diagnostics == []
    out = format_file(rule_file)
    again, diagnostics = parse(out, "t.rules")
    assert diagnostics == []
    assert again == rule_file
    assert format_file(again) == out
    return out


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (10, "10s"), (300, "5m"), (5400, "1h30m"), (86400 + 1, "1d1s"), (0, "0s"),
     (-300, "-5m"), (90.5, "1m30s500ms")],
)
def test_durations_are_canonical_compounds(seconds, text):
    assert format_duration(seconds) == text


def test_strings_escape_what_the_lexer_needs():
    assert format_string('say "hi"\\\n\t\x01') == r'"say \"hi\"\\\n\t\u0001"'


def test_parentheses_only_where_the_tree_needs_them():
    rf, _ = parse('when a.b where (a or b) and not (c == 1) and (x - (y - z)) > 1', "t")
    where = rf.monitors[0].clauses[0]
    assert format_expr(where.condition) == "(a or b) and not c == 1 and x - (y - z) > 1"


def test_multi_line_input_becomes_one_line_when_it_fits():
    out = roundtrip('when execution.failed\n    on flow "Sync"\n    notify group "DevOps"\n\ngroup "DevOps" { email "a@b.co" }\n')
    assert out == (
        'when execution.failed on flow "Sync" notify group "DevOps"\n\n'
        'group "DevOps" {\n  email "a@b.co"\n}\n'
    )


def test_long_monitor_puts_one_clause_per_line():
    text = ('when count(execution.failed) / count(execution.*) > 10% and count(execution.*) >= 20 '
            'over 1h by flow notify group "DevOps" severity critical')
    out = roundtrip(text)
    assert out.splitlines()[1:] == ["  by flow", '  notify group "DevOps"', "  severity critical"]


def test_comments_are_kept_in_place():
    text = (
        "# file header\n\n"
        'webhook "A" {  # the hook\n'
        '  url "https://x.example/h"  # where\n'
        "  # the verb\n"
        "  method POST\n"
        "}\n"
        "when a.b  # trailing\n"
        "  # before\n"
        "  severity info\n"
        "# the end\n"
    )
    out = roundtrip(text)
    assert out == text


def test_payload_json_is_pretty_printed_and_kept_equal():
    out = roundtrip('webhook "A" { url "https://x.example" payload {"a": {"b": [1, -2.5, true, null, "x"]}, "c": []} }')
    assert '"b": [1, -2.5, true, null, "x"]' in out


def test_derived_name_is_trigger_plus_selecting_clauses():
    rf, _ = parse('when execution.duration >= 10s on flow "Sync" notify group "DevOps" via webhook "PagerDuty"', "t")
    assert derived_name(rf.monitors[0]) == 'execution.duration >= 10s on flow "Sync"'


def test_format_text_refuses_broken_input():
    out, diagnostics = format_text("when a.b where", "t.rules")
    assert out is None and diagnostics[0].code == "E001"


def test_every_construct_round_trips():
    roundtrip(
        'schedule "m" { days mon-fri, sun hours 01:00-03:00, 22:30-23:00 timezone "Europe/Berlin" }\n'
        'monitor "x" when no execution.completed within 1h30m on instance "I" every 15m\n'
        'when p95(duration of execution.completed where flow in ["a", "b"]) > 2m over 1h by instance, flow\n'
        '  for 5m keep firing for 10m escalate to group "L", email "a@b.co" after 30m\n'
        '  notify group "G" via email, webhook "W" without resolved\n'
        '  label team "core" mute during "m" message """two\nlines""" disabled\n'
        'when log.level >= warn where exists step and message matches "^x" until log.written where level == info\n'
        'when rate(order.placed) < 0.5 or -sum(total of order.placed) * 2 <= -3 over 10m\n'
    )


def test_unnamed_empty_file_formats_to_empty():
    assert format_file(A.RuleFile("t", ())) == ""
