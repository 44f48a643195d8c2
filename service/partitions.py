"""Evaluator partitions: the monitors split into `TOCSIN_EVALUATOR_PARTITIONS` groups.

    p = Partition(index=1, count=4)
    p.lease_id                 # "evaluator:1/4" (a single partition keeps "evaluator:all")
    p.owns("Sync failures")    # crc32 of the name, modulo the count
    p.ruleset(full_ruleset)    # the same channels, groups and schedules, only its monitors

Each partition has its own lease, checkpoint and engine; every partition reads every
stored event (the engine only matches its own monitors). A monitor's partition depends
only on its name and the count, so every replica agrees as long as they run with the
same count.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Any

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

    def ruleset(self, ruleset: Any) -> Any:
        """The rule set restricted to this partition's monitors (the whole set when alone)."""
        if self.count == 1:
            return ruleset
        return dataclasses.replace(ruleset, monitors=tuple(m for m in ruleset.monitors if self.owns(m.name)))


def partitions(count: int) -> list[Partition]:
    return [Partition(i, count) for i in range(max(1, count))]
