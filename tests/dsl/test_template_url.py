"""W506: a channel url that reads what the event's sender chooses."""

from __future__ import annotations

import dsl

BASE = 'monitor "m" when execution.failed notify webhook "hook"\n'


def w506(url: str, kind: str = "webhook") -> list[tuple[int, int, str]]:
    text = BASE.replace("webhook", kind) + f'{kind} "hook" {{ url "{url}" }}\n'
    _, diagnostics = dsl.load({"a.rules": text})
    return [(d.span.line, d.span.column, d.message.split("`")[3]) for d in diagnostics if d.code == "W506"]


def test_event_values_and_the_key_in_a_url_are_warned_about_at_their_place():
    assert w506("https://ops.example/hooks/{{ event.flow }}") == [(2, 52, "event.flow")]
    assert w506("https://ops.example/{{ alert.event.instance.name }}/x") == [(2, 46, "alert.event.instance.name")]
    assert w506("https://ops.example/{{ alert.key.flow }}") == [(2, 46, "alert.key.flow")]
    assert w506("https://ops.example/$FLOW/$CUSTOMER") == [(2, 43, "$FLOW"), (2, 49, "$CUSTOMER")]
    assert w506("https://hooks.slack.com/{{ event.step }}", kind="slack") == [(2, 48, "event.step")]


def test_the_authors_and_the_services_values_are_not():
    assert w506("https://ops.example/{{ secrets.PATH }}") == []
    assert w506("https://ops.example/{{ monitor.name }}/{{ alert.id }}/$URL") == []
    assert w506("https://ops.example/hooks/fixed") == []
