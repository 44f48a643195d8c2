"""Conditions compiled to closures: path resolution, absent values, types, ranks."""

from __future__ import annotations

import pytest

from dsl.parser import parse
from engine.exprs import condition

EVENT = {
    "type": "log.written", "flow": "Sync", "level": "warn", "message": "read timeout",
    "instance": {"id": "I1", "name": "Acme"}, "data": {"login_location": "DE", "n": 5, "tags": ["a", "b"]},
    "execution": {"duration": 12.5},
}

CASES = [
    ('flow == "Sync"', True), ('flow != "Sync"', False), ('missing != "x"', True),
    ('missing == "x"', False), ("missing == null", True), ("missing > 1", False),
    ('missing not in ["a"]', True), ('missing in ["a"]', False),
    ('login_location == "DE"', True), ('event.data.login_location == "DE"', True),
    ('event.login_location == "DE"', False), ('instance.name startswith "Ac"', True),
    ('message contains "timeout"', True), ('message endswith "out"', True),
    ('message matches "t[io]+meout$"', True), ('message matches "^timeout"', False),
    ('tags contains "b"', True), ("n >= 5 and n < 6", True), ('n > "x"', False),
    ("level >= warn", True), ("level > warn", False), ("log.level >= info", True),
    ('level == "warn"', True), ("level < error", True),
    ("execution.duration >= 10s", True), ("duration >= 1m", False),
    ("exists instance.id and not exists connection.name", True),
    ("n * 2 - 1 == 9", True), ("n / 0 == 1", False), ("-n < 0", True),
    ('flow in ["Sync", "Import"]', True), ("true == 1", False),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_condition(text: str, expected: bool) -> None:
    rule_file, diags = parse(f"when log.written where {text}", file="t.rules")
    assert not diags
    cond = condition(rule_file.monitors[0].clauses[0].condition)
    assert cond(EVENT, "log") is expected


@pytest.mark.parametrize("level,expected", [
    ("warn", True), ("WARN", True), ("error", True), ("info", False), ("verbose", False),
    (3, False), (True, False), (None, False), (["warn"], False),
])
def test_ranked_comparison_only_ranks_known_level_texts(level: object, expected: bool) -> None:
    rule_file, diags = parse("when log.written where level >= warn", file="t.rules")
    assert not diags
    cond = condition(rule_file.monitors[0].clauses[0].condition)
    assert cond({**EVENT, "level": level}, "log") is expected


@pytest.mark.parametrize("text,event,expected", [
    ('step == "Fetch"', {"step": "Fetch"}, True),
    ('step == "Fetch"', {"data": {"step": "Fetch"}}, True),  # not in the envelope: data
    ('step == "Fetch"', {"step": None, "data": {"step": "Fetch"}}, True),
    ('step == "Fetch"', {"step": "Store", "data": {"step": "Fetch"}}, False),
    ('message contains "out"', {"log": {"message": "timeout"}}, True),  # the family object
    ('message contains "out"', {"message": 5}, False),
    ('message contains "b"', {"message": ["a", "b"]}, True),
    ('step != "Fetch"', {}, True),
])
def test_one_part_fields_resolve_in_order(text: str, event: dict, expected: bool) -> None:
    rule_file, diags = parse(f"when log.written where {text}", file="t.rules")
    assert not diags
    cond = condition(rule_file.monitors[0].clauses[0].condition)
    assert cond({"type": "log.written", **event}, "log") is expected
