"""Event patterns: `execution.failed` (one type) or `execution.*` (a family)."""

from __future__ import annotations

from dataclasses import dataclass

from dsl import ast as A


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str  # `execution.failed` or `execution.*`
    family: str
    exact: bool

    @staticmethod
    def of(path: A.Path) -> Pattern:
        if path.star:
            return Pattern(path.dotted, ".".join(path.parts), False)
        return Pattern(path.dotted, path.parts[0], True)

    def matches(self, event_type: str) -> bool:
        if self.exact:
            return event_type == self.text
        return event_type.startswith(self.family) and event_type[len(self.family):][:1] == "."
