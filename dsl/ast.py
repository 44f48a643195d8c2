"""The typed syntax tree of the monitor language.

Every node is a frozen dataclass that carries the `Span` of the text it came from.
Spans never take part in equality (``field(compare=False)``), so two trees parsed from
differently formatted but equivalent texts compare equal: ``parse(fmt(x)) == parse(x)``.

Shape of a file::

    RuleFile
    ├── Block        a channel kind (dsl/channels/) / group / schedule "NAME" { items }
    │   └── BlockItem   key value[, value…]      (values: String Number Duration Word
    │                                              TimeRange JsonObject JsonArray …)
    └── Monitor      [monitor "NAME"] when TRIGGER CLAUSE*
        ├── trigger: EventTrigger | ComparisonTrigger | AbsenceTrigger | MetricTrigger
        └── clauses: WhereClause OnClause ByClause NotifyClause EveryClause ForClause
                     KeepFiringClause EscalateClause UntilClause SeverityClause
                     MessageClause RunbookClause LabelClause MuteClause DisabledClause
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Union

# The vocabulary lives in dsl.catalog; imported here for code that reads it beside the nodes.
from dsl.catalog import AGGREGATES, BLOCK_KINDS, COUNTING_AGGREGATES, CHANNEL_KINDS, LOG_LEVELS, SEVERITIES  # noqa: F401
from dsl.catalog import COMPARISON_OPERATORS as COMPARISON_OPS


class Span(NamedTuple):
    """Where a node sits in its file; lines and columns are 1-based, the end exclusive.

    A named tuple rather than a dataclass: the parser makes one per node, and a tuple
    is several times cheaper to build."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def unknown(file: str = "<unknown>") -> Span:
        return Span(file, 1, 1, 1, 1)


def _span() -> Span:
    return field(default_factory=Span.unknown, compare=False, repr=False)  # type: ignore[return-value]


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class String:
    """A string literal; `value` has its escapes decoded. May hold `{{ templates }}`."""

    value: str
    triple: bool = field(default=False, compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Percent:
    """`10%`: `value` is the number as written (10), `ratio` the fraction (0.10)."""

    value: int | float
    span: Span = _span()

    @property
    def ratio(self) -> float:
        return self.value / 100


@dataclass(frozen=True, slots=True)
class Duration:
    """`250ms`, `10s`, `1h30m`: kept in seconds (a float only below one second)."""

    seconds: float
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Null:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Word:
    """A bare identifier used as a value: `method POST`, `days sat`, `severity critical`."""

    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TimeRange:
    """`01:00-03:00` in a schedule; minutes since midnight, end exclusive."""

    start: int
    end: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class JsonObject:
    """A JSON object literal (webhook `payload`, slack `blocks`); keys are `String`s."""

    members: tuple[tuple[String, JsonValue], ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class JsonArray:
    items: tuple[JsonValue, ...]
    span: Span = _span()


JsonValue = Union[JsonObject, JsonArray, String, Number, Bool, Null]


# ---------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Path:
    """A dotted field path or event pattern: `instance.name`, `execution.*` (star=True)."""

    parts: tuple[str, ...]
    star: bool = False
    span: Span = _span()

    @property
    def dotted(self) -> str:
        return ".".join(self.parts) + (".*" if self.star else "")


@dataclass(frozen=True, slots=True)
class ListExpr:
    """`[a, b]`, the right side of `in` / `not in`."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    """`not X` or `-X`."""

    op: str
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    """`and or + - * /`, left-associative."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    """`left OP right` with OP one of `COMPARISON_OPS`."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Exists:
    path: Path
    span: Span = _span()


FIELD_AGGREGATES = tuple(a for a in AGGREGATES if a not in COUNTING_AGGREGATES)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`count(PATTERN [where C])` or `avg(FIELD of PATTERN [where C])`.

    `func` is as written; the checker rejects names outside `AGGREGATES`.
    """

    func: str
    pattern: Path
    field: Path | None = None
    where: Expr | None = None
    func_span: Span = _span()
    span: Span = _span()


Literal = Union[String, Number, Percent, Duration, Bool, Null]
Expr = Union[Path, String, Number, Percent, Duration, Bool, Null, ListExpr, Unary, Binary,
             Compare, Exists, Aggregate]


def first_compare(expr: Expr) -> Compare | None:
    """The first comparison in `expr` (through `and`, `or`, `not`): for a metric trigger,
    its sides are the alert's value and threshold."""
    if isinstance(expr, Compare):
        return expr
    if isinstance(expr, Binary) and expr.op in ("and", "or"):
        return first_compare(expr.left) or first_compare(expr.right)
    if isinstance(expr, Unary) and expr.op == "not":
        return first_compare(expr.operand)
    return None


# ------------------------------------------------------------------------- triggers


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """`when execution.failed`: every matching event."""

    pattern: Path
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ComparisonTrigger:
    """`when execution.duration >= 10s`: `field`'s first part is the event family."""

    field: Path
    op: str
    value: Expr
    span: Span = _span()

    @property
    def family(self) -> str:
        return self.field.parts[0]


@dataclass(frozen=True, slots=True)
class AbsenceTrigger:
    """`when no execution.completed within 15m`."""

    pattern: Path
    within: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MetricTrigger:
    """`when count(login.failed) > 100 over 5m`: a boolean over aggregates, one window."""

    condition: Expr
    window: Duration
    span: Span = _span()


Trigger = Union[EventTrigger, ComparisonTrigger, AbsenceTrigger, MetricTrigger]


# -------------------------------------------------------------------------- clauses


@dataclass(frozen=True, slots=True)
class Target:
    """`group "DevOps"`, `email "ana@example.com"`, `webhook "PagerDuty"`, …"""

    kind: str
    name: String
    kind_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Via:
    """After `via`: a contact kind (`email`, `sms`) or a named channel (`webhook "X"`)."""

    kind: str
    name: String | None = None
    kind_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WhereClause:
    condition: Expr
    keyword: str = field(default="where", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnClause:
    """`on flow "Sync", "Import"`; `scope` is as written (flow / instance / customer)."""

    scope: str
    values: tuple[String, ...]
    scope_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ByClause:
    fields: tuple[Path, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NotifyClause:
    targets: tuple[Target, ...]
    via: tuple[Via, ...] = ()
    without_resolved: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EveryClause:
    interval: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ForClause:
    duration: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class KeepFiringClause:
    duration: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EscalateClause:
    targets: tuple[Target, ...]
    after: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class UntilClause:
    pattern: Path
    where: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SeverityClause:
    """`severity critical`; `level` as written, checked against `SEVERITIES`."""

    level: str
    level_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MessageClause:
    text: String
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RunbookClause:
    """`runbook "https://wiki.example.com/sync"`: where on-call engineers read what to do;
    plain text (no template), `monitor.runbook` in templates."""

    link: String
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LabelClause:
    name: str
    value: String
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MuteClause:
    schedule: String
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DisabledClause:
    span: Span = _span()


Clause = Union[WhereClause, OnClause, ByClause, NotifyClause, EveryClause, ForClause,
               KeepFiringClause, EscalateClause, UntilClause, SeverityClause, MessageClause,
               RunbookClause, LabelClause, MuteClause, DisabledClause]


# ---------------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Monitor:
    """`[monitor "NAME"] when TRIGGER CLAUSE*`; clauses stay in source order.

    `name` is the explicit name or None; the checker derives one for unnamed monitors
    (`dsl.names.monitor_name`).
    """

    trigger: Trigger
    clauses: tuple[Clause, ...] = ()
    name: String | None = None
    span: Span = _span()

    def clauses_of(self, kind: type) -> list:
        return [c for c in self.clauses if isinstance(c, kind)]

    def clause(self, kind: type):
        """The first clause of that type, or None."""
        for c in self.clauses:
            if isinstance(c, kind):
                return c
        return None


BlockValue = Union[String, Number, Percent, Duration, Bool, Null, Word, TimeRange,
                   JsonObject, JsonArray]


@dataclass(frozen=True, slots=True)
class BlockItem:
    """One line of a block: `url "https://…"`, `header "A" "B"`, `days sat, sun`."""

    key: str
    values: tuple[BlockValue, ...]
    key_span: Span = _span()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Block:
    """`KIND "NAME" { ITEM* }`: a channel, group or schedule. `kind` as written."""

    kind: str
    name: String
    items: tuple[BlockItem, ...] = ()
    kind_span: Span = _span()
    span: Span = _span()

    def items_of(self, key: str) -> list[BlockItem]:
        return [i for i in self.items if i.key == key]


Declaration = Union[Block, Monitor]


@dataclass(frozen=True, slots=True)
class Comment:
    """A `# …` comment, kept so the formatter can put it back."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One parsed `*.rules` file. `declarations` holds what parsed; see `dsl.parse`."""

    file: str
    declarations: tuple[Declaration, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = _span()

    @property
    def monitors(self) -> list[Monitor]:
        return [d for d in self.declarations if isinstance(d, Monitor)]

    @property
    def blocks(self) -> list[Block]:
        return [d for d in self.declarations if isinstance(d, Block)]
