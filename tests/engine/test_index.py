"""The candidate index: types, families and equality scopes select the monitors."""

from __future__ import annotations

from engine.compile import compile_ruleset
from engine.index import MonitorIndex
from tests.engine.support import ev, rules


def _index(text: str) -> MonitorIndex:
    return MonitorIndex(list(compile_ruleset(rules(text)).values()))


def _names(index: MonitorIndex, event: dict) -> list[str]:
    return [m.name for m in index.candidates(event)]


def test_exact_types_families_until_and_aggregates() -> None:
    index = _index('monitor "a" when execution.failed\n'
                   'monitor "b" when execution.* where flow == "x"\n'
                   'monitor "c" when log.level >= warn until execution.completed\n'
                   'monitor "d" when count(order.placed) > 1 over 1m\n'
                   'monitor "e" when execution.failed disabled')
    assert _names(index, ev("execution.failed", "00:00:00")) == ["a", "b"]
    assert _names(index, ev("execution.completed", "00:00:00")) == ["b", "c"]
    assert _names(index, ev("log.written", "00:00:00")) == ["c"]
    assert _names(index, ev("order.placed", "00:00:00")) == ["d"]
    assert _names(index, ev("orders.placed", "00:00:00")) == []


def test_scoped_monitors_are_candidates_only_for_their_values() -> None:
    text = "\n".join(f'monitor "f{i}" when execution.failed on flow "F{i}"' for i in range(500))
    text += '\nmonitor "inst" when execution.failed on instance "name-I7"'
    text += '\nmonitor "cust" when execution.failed on customer "acme"'
    index = _index(text)
    assert _names(index, ev("execution.failed", "00:00:00", flow="F42")) == ["f42"]
    assert _names(index, ev("execution.failed", "00:00:00", flow="F1", instance="I7")) == ["f1", "inst"]
    assert _names(index, ev("execution.failed", "00:00:00", flow="none",
                            customer={"name": "Acme", "external_id": "acme"})) == ["cust"]


def test_routes_carry_handlers_and_whether_scopes_need_checking() -> None:
    monitors = list(compile_ruleset(rules(
        'monitor "a" when execution.failed\n'
        'monitor "b" when execution.failed on flow "F1"\n'
        'monitor "c" when execution.failed on flow "F1" on instance "I7"\n'
        'monitor "d" when log.written')).values())
    index = MonitorIndex(monitors, handler=lambda m: m.name.upper())
    fam, route = index.route(ev("execution.failed", "00:00:00", flow="F1"))
    assert (fam, [m.name for m in route.monitors], route.handlers, route.checked) == \
        ("execution", ["a", "b", "c"], ("A", "B", "C"), True)
    fam, route = index.route(ev("execution.failed", "00:00:00", flow="F2"))
    assert ([m.name for m in route.monitors], route.handlers, route.checked) == (["a"], ("A",), False)
    fam, route = index.route(ev("log.written", "00:00:00"))
    assert (fam, route.handlers, route.checked) == ("log", ("D",), False)
