"""Evaluator partitions: the monitors split into `TOCSIN_EVALUATOR_PARTITIONS` groups.

    p = Partition(index=1, count=4)
    p.lease_id                 # "evaluator:1/4" (a single partition keeps "evaluator:all")
    p.owns("Sync failures")    # crc32 of the name, modulo the count
    p.ruleset(full_ruleset)    # the same channels, groups and schedules, only its monitors

Each partition has its own lease, checkpoint and engine; every partition reads every
stored event (the engine only matches its own monitors). A monitor's partition depends
only on its name and the count, so every replica agrees as long as they run with the
same count (service/membership.py enforces it).

Which replica evaluates which partition is `assign()`: live replicas + the current owners
-> each partition's target owner (docs/cluster.md).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dsl.ruleset import RuleSet

SINGLE = "evaluator:all"


@dataclass(frozen=True, slots=True)
class Partition:
    index: int
    count: int

    @property
    def lease_id(self) -> str:
        return SINGLE if self.count == 1 else f"evaluator:{self.index}/{self.count}"

    def owns(self, monitor: str) -> bool:
        return self.count == 1 or zlib.crc32(monitor.encode("utf-8", "surrogatepass")) % self.count == self.index

    def ruleset(self, ruleset: RuleSet) -> RuleSet:
        """The rule set restricted to this partition's monitors (the whole set when alone)."""
        if self.count == 1:
            return ruleset
        return dataclasses.replace(ruleset, monitors=tuple(m for m in ruleset.monitors if self.owns(m.name)))


def partitions(count: int) -> list[Partition]:
    return [Partition(i, count) for i in range(max(1, count))]


def lease_index(count: int) -> dict[str, int]:
    """Each partition's lease id -> its index, for `count` partitions."""
    return {p.lease_id: p.index for p in partitions(count)}


def fair_share(count: int, members: int) -> int:
    """The most partitions one of `members` live replicas owns: ceil(count / members)."""
    return -(-count // members) if members else 0


def assign(members: Iterable[str], count: int, current: Mapping[int, str | None]) -> dict[int, str]:
    """Each of the `count` partitions' target owner among `members` (replica ids).

    Pure, and the same on every replica given the same view:
    - fair: everyone gets floor(P/N) or ceil(P/N) partitions, the extra ones going to
      those that hold the most now (then by id), so they keep them;
    - sticky: a member keeps what it holds (`current`: index -> owner; an owner that is
      not a member counts as none) up to its quota, lowest indexes first; only what is
      over a quota or unowned moves, which is the least any fair assignment can move;
    - a fixed point: handing the partitions over as assigned gives the same assignment,
      so replicas that see the handover half done do not start another one.
    """
    names = sorted(set(members))
    if not names:
        return {}
    base, extra = divmod(count, len(names))
    held: dict[str, list[int]] = {m: [] for m in names}
    for index in sorted(current):
        owner = current[index]
        if owner in held and 0 <= index < count:
            held[owner].append(index)
    ranked = sorted(names, key=lambda m: (-len(held[m]), m))
    quota = {m: base + (1 if rank < extra else 0) for rank, m in enumerate(ranked)}
    target: dict[int, str] = {}
    for m in names:
        for index in held[m][:quota[m]]:
            target[index] = m
    free = iter(i for i in range(count) if i not in target)
    for m in names:
        for _ in range(quota[m] - min(len(held[m]), quota[m])):
            target[next(free)] = m
    return dict(sorted(target.items()))
