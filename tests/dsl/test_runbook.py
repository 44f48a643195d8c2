"""The `runbook STR` clause (docs/contributing.md's recipe for a clause keyword, proved):
parsed, formatted back, checked, in templates as `monitor.runbook` and in the default texts."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import dsl
from dsl import ast as A
from dsl.formatter import format_file, format_text
from delivery.context import build_context
from delivery.request import build_requests
from delivery.texts import detail_rows
from engine.model import AlertEvent, Destination

GROUP = 'group "G" { email "a@example.com" }\n'
LINK = "https://wiki.example.com/runbooks/sync"
AT = datetime(2026, 11, 22, 7, 30, tzinfo=timezone.utc)


def monitor(clauses: str) -> str:
    return GROUP + f'monitor "m" when execution.failed notify group "G" {clauses}\n'


def codes(text: str) -> list[str]:
    _, diagnostics = dsl.load({"t.rules": text})
    return [d.code for d in diagnostics]


def test_parses_into_its_node_with_the_link_and_span():
    text = monitor(f'runbook "{LINK}" severity critical')
    rule_file, diagnostics = dsl.parse(text, file="t.rules")
    assert diagnostics == []
    clause = rule_file.monitors[0].clause(A.RunbookClause)
    assert clause == A.RunbookClause(A.String(LINK))
    column = text.splitlines()[1].index("runbook") + 1
    assert clause.span == A.Span("t.rules", 2, column, 2, column + len(f'runbook "{LINK}"'))


def test_runbook_stays_usable_as_a_name_elsewhere():
    text = monitor(f'runbook "{LINK}" where runbook == "x"').replace('notify group "G" ', "")
    rule_file, diagnostics = dsl.parse(text)
    assert diagnostics == []
    assert rule_file.monitors[0].clause(A.WhereClause).condition.left == A.Path(("runbook",))


@pytest.mark.parametrize("clauses", [
    f'runbook "{LINK}"',
    f'severity error runbook "{LINK}" label team "core"',
    'runbook "a \\"quoted\\" \\\\ text"',
])
def test_formats_back_to_the_same_monitor_and_settles(clauses):
    text = monitor(clauses)
    formatted, diagnostics = format_text(text)
    assert diagnostics == [] and "runbook" in formatted
    assert dsl.parse(formatted)[0] == dsl.parse(text)[0]
    assert format_text(formatted)[0] == formatted


def test_a_long_monitor_puts_runbook_on_its_own_line():
    rule_file, _ = dsl.parse(monitor(f'runbook "{LINK}" message "' + "x" * 80 + '"'))
    assert f'  runbook "{LINK}"' in format_file(rule_file).splitlines()


def test_a_clean_monitor_with_a_runbook_checks_clean():
    assert codes(monitor(f'runbook "{LINK}"')) == []


def test_at_most_one_runbook():
    _, diagnostics = dsl.load({"t.rules": monitor('runbook "a" runbook "b"')})
    (d,) = diagnostics
    assert (d.code, d.message) == ("E402", "`runbook` may appear only once in a monitor")


@pytest.mark.parametrize("value", ["5", "sync", "[\"a\"]", ""])
def test_the_link_is_a_string(value):
    _, diagnostics = dsl.parse(monitor(f"runbook {value}"))
    assert [d.code for d in diagnostics] == ["E001"]
    assert "expected a string" in diagnostics[0].message


def test_a_misspelt_keyword_is_hinted():
    _, diagnostics = dsl.parse(monitor("runbok"))
    assert [d.hint for d in diagnostics] == ["did you mean `runbook`?"]


def test_templates_see_monitor_runbook_and_a_typo_is_e208():
    assert codes(monitor(f'runbook "{LINK}" message "see {{{{ monitor.runbook }}}}"')) == []
    _, diagnostics = dsl.load({"t.rules": monitor('message "see {{ monitor.runbok }}"')})
    (d,) = diagnostics
    assert (d.code, d.message, d.hint) == (
        "E208", "unknown template field `monitor.runbok`", "did you mean `monitor.runbook`?")


def _request(clauses: str):
    ruleset, diagnostics = dsl.load({"t.rules": monitor(clauses)})
    assert ruleset is not None, diagnostics
    alert_event = AlertEvent("ae1", "al1", "m", {"flow": "Sync"}, "fired", AT, "error",
                             (Destination("email", "a@example.com", "G"),), event=None, fired_at=AT)
    (request,) = build_requests(alert_event, ruleset, public_url="https://tocsin.example")
    return request


def test_delivery_puts_the_runbook_in_the_context_and_the_default_texts():
    request = _request(f'runbook "{LINK}"')
    assert build_context(request, None)["monitor"]["runbook"] == LINK
    assert ("Runbook", LINK) in detail_rows(request)


def test_without_a_runbook_the_context_holds_none_and_the_texts_no_row():
    request = _request("")
    assert build_context(request, None)["monitor"]["runbook"] is None
    assert "Runbook" not in dict(detail_rows(request))
