"""Small walks over expressions and triggers shared by the checks."""

from __future__ import annotations

from dsl import ast as A


def aggregates(e) -> list[A.Aggregate]:
    """Every aggregate in an expression, outermost first."""
    if isinstance(e, A.Aggregate):
        return [e]
    found = []
    for sub in (getattr(e, "left", None), getattr(e, "right", None), getattr(e, "operand", None)):
        if sub is not None:
            found.extend(aggregates(sub))
    if isinstance(e, A.ListExpr):
        for item in e.items:
            found.extend(aggregates(item))
    return found


def conjuncts(e) -> list:
    """The parts of a top-level `and` chain (the expression itself otherwise)."""
    if isinstance(e, A.Binary) and e.op == "and":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def trigger_families(trigger: A.Trigger) -> frozenset[str]:
    """The event families a trigger's events belong to (metric: all its aggregates')."""
    if isinstance(trigger, (A.EventTrigger, A.AbsenceTrigger)):
        return frozenset({trigger.pattern.parts[0]})
    if isinstance(trigger, A.ComparisonTrigger):
        return frozenset({trigger.family})
    return frozenset(a.pattern.parts[0] for a in aggregates(trigger.condition))
