"""The API's request and answer shapes as pydantic models (api.md), for the routes and the
OpenAPI document.

A request model is its route's validator: the route validates the body with it and
answers a `ValidationError` with `validation_problem` (422, `errors[]`), so what the
document states is what the route enforces. Answer models state what a route answers,
and `tests/service/test_openapi_generated.py` checks real answers against them.
The ingestion model (`service.events_model.Event`) and the silence request
(`service.routes.silences.SilenceIn`) live beside their routes. `service/openapi.py`
turns the models into JSON Schema; each route names its models with
`service.api_doc.documented`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, RootModel, ValidationError,
                      ValidationInfo, ValidatorFunctionWrapHandler, WrapValidator, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from delivery.channels import registered_kinds
from dsl.catalog import SEVERITIES
from dsl.literals import DURATION_PATTERN
from engine.times import EARLIEST, LATEST
from service import problems
from service.events_model import MAX_BATCH, Event, Rfc3339
from service.rules_store import FILE_NAME

_Closed = ConfigDict(extra="forbid")
_Open = ConfigDict(extra="allow")  # an answer may gain fields; clients ignore unknown ones
# A request: no unknown field, and no coercion (`"yes"` is not true, `1.0` not a limit).
_Request = ConfigDict(extra="forbid", strict=True)

# Schemas of query and path values: the language's durations, the rules store's file names.
DURATION = {"type": "string", "pattern": f"^{DURATION_PATTERN}$", "examples": ["5m", "1h30m"]}
RULE_NAME = {"type": "string", "pattern": FILE_NAME.pattern, "examples": ["main.rules"]}
AlertStatus = Literal["firing", "pending", "resolved", "inactive"]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]


# Problems (RFC 9457), every 4xx/5xx answer.
class ProblemError(BaseModel):
    model_config = _Open
    index: int = Field(description="the event's index in a batch; 0 otherwise")
    path: str = Field(description="JSON Pointer of the value, or the query parameter's name")
    message: str


class Problem(BaseModel):
    model_config = _Open
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemError] | None = None


class Diagnostic(BaseModel):
    """A finding of the language's checker (docs/diagnostics.md), as `tocsin lint --format json`."""

    model_config = _Closed
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: Literal["error", "warning"]
    code: str = Field(examples=["E101"])
    message: str
    hint: str | None


# Requests.
class EventBody(RootModel[Event | list[Event]]):
    """One event or a batch of at most 1,000 (all or nothing)."""

    root: Event | list[Event] = Field(json_schema_extra={"description": "an event or an array of at most 1,000"})


class RuleFiles(BaseModel):
    model_config = _Closed
    files: dict[str, str] = Field(description="file name -> rule text")


class ByComment(BaseModel):
    """The body of acknowledge and clear; both optional, the body too."""

    model_config = _Closed
    by: str | None = None
    comment: str | None = None


def _in_range(t: datetime) -> datetime:
    if not EARLIEST <= t < LATEST:  # aware comparisons: no UTC conversion to overflow
        raise PydanticCustomError("time_range", "an RFC 3339 time between 1970 and 9000")
    return t.astimezone(timezone.utc)


# A time in a request: RFC 3339 text with an offset (as an event's `time`), 1970 to 9000, as UTC.
RequestTime = Annotated[Rfc3339, AfterValidator(_in_range)]


def _as_sent(value: object, _validate: ValidatorFunctionWrapHandler) -> object:
    return value


# A dry run's event: documented as `Event`, kept here as sent. The route validates each one
# as `POST /v1/events` does (`validate_event`: the storage checks, then `Event`), later and
# off the event loop, with its errors at `/events/<i>/…`; the body's shape comes first.
EventAsSent = Annotated[Event, WrapValidator(_as_sent)]


class DryRunRequest(BaseModel):
    model_config = _Request
    files: dict[str, str] = Field(description="file name -> rule text")
    events: list[EventAsSent] = Field(max_length=MAX_BATCH, description="events as `POST /v1/events` takes them")
    until: RequestTime | None = Field(default=None, description="RFC 3339; default: the last event + the "
                                                                "longest window or interval")
    render: bool = Field(default=False, description="also list each alert event's notifications as they "
                                                    "would be sent")


class BacktestBody(BaseModel):
    """Exactly one of `files` (rules loaded as a set) and `monitor` (of the active set)."""

    model_config = _Request
    files: dict[str, str] | None = Field(default=None, description="file name -> rule text")
    monitor: str | None = Field(default=None, min_length=1, description="a monitor of the active rule set")
    from_: RequestTime = Field(alias="from")
    to: RequestTime
    limit: int = Field(default=1000, ge=1, le=10_000, description="the most alert events listed")

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("from_")  # absent when `from` itself was refused
        if start is not None and to < start:
            raise PydanticCustomError("time_order", "not before `from`")
        return to

    @model_validator(mode="after")
    def _one_source(self) -> BacktestBody:
        if (self.files is None) == (self.monitor is None):
            raise PydanticCustomError("one_source", "exactly one of `files` and `monitor`")
        return self


_MESSAGES = {"extra_forbidden": "unknown field", "model_type": "not an object", "missing": "required",
             "string_type": "must be a string"}


def validation_problem(exc: ValidationError, detail: str, *, whole: str = "") -> problems.Problem:
    """A request model's refusal as the 422 every route answers (api.md): `errors[]` of
    `{index: 0, path, message}`, `path` a JSON Pointer into the body (`whole` for the
    body itself: `""`, or the one field a route's body is about)."""
    errors = [{"index": 0, "path": "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in e["loc"]) or whole,
               "message": _MESSAGES.get(e["type"], e["msg"])}
              for e in exc.errors(include_url=False)]
    return problems.Problem(422, detail, errors=errors)


# Answers.
class Accepted(BaseModel):
    model_config = _Closed
    accepted: int = Field(description="events stored now")
    duplicates: int = Field(description="ids stored before, not evaluated again")
    ids: list[str]


class LintResult(BaseModel):
    model_config = _Closed
    ok: bool
    diagnostics: list[Diagnostic]


class MonitorRow(BaseModel):
    model_config = _Closed
    name: str
    trigger: str
    file: str
    line: int


class ValidateResult(LintResult):
    monitors: list[MonitorRow]


class RuleFileInfo(BaseModel):
    model_config = _Closed
    name: str
    sha256: str
    monitors: int


class LastReload(BaseModel):
    model_config = _Open
    ok: bool
    at: AwareDatetime | None
    diagnostics: list[Diagnostic]
    error: str | None = None


class RulesState(BaseModel):
    model_config = _Closed
    version: int
    loaded_at: AwareDatetime | None
    files: list[RuleFileInfo]
    last_reload: LastReload | None


class ReloadResult(RulesState):
    ok: bool


class RulesChange(BaseModel):
    model_config = _Closed
    version: int
    ok: bool
    diagnostics: list[Diagnostic]


class MonitorError(BaseModel):
    """Why a monitor is quarantined (it failed on an event; the others went on)."""

    model_config = _Closed
    message: str | None
    stage: str | None
    at: AwareDatetime | None
    event_id: str | None
    recorded_at: AwareDatetime | None


class MonitorSummary(BaseModel):
    model_config = _Closed
    name: str
    file: str
    line: int
    trigger: str
    severity: Severity
    targets: list[str] = Field(description="`kind:name` of each notify and escalate target")
    disabled: bool
    open_alerts: int
    status: Literal["ok", "pending", "firing", "disabled", "error"]
    error: MonitorError | None


class MonitorPage(BaseModel):
    model_config = _Closed
    items: list[MonitorSummary]
    next_cursor: str | None


class Alert(BaseModel):
    model_config = _Open
    id: str
    monitor: str
    key: dict[str, Any]
    status: AlertStatus
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: AwareDatetime | None
    comment: str | None
    severity: Severity
    fired_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    resolved_by: str | None
    pending_since: AwareDatetime | None
    count: int
    value: float | None
    threshold: float | None
    labels: dict[str, str]
    last_event: dict[str, Any] | None
    last_triggered_at: AwareDatetime | None


class AlertPage(BaseModel):
    model_config = _Closed
    items: list[Alert]
    next_cursor: str | None


class Delivery(BaseModel):
    """A ledger entry of an alert event (docs/delivery.md § The ledger)."""

    model_config = _Open
    id: str
    alert_event_id: str
    state: str = Field(examples=["pending", "sending", "sent", "failed"])


class AlertEventRecord(BaseModel):
    model_config = _Open
    id: str
    alert_id: str
    monitor: str
    kind: str
    at: AwareDatetime
    deliveries: list[Delivery]


class AlertDetail(Alert):
    alert_events: list[AlertEventRecord] = Field(description="oldest first, at most 1,000")


class Command(BaseModel):
    model_config = _Closed
    id: str
    action: Literal["acknowledge", "clear"]
    status: Literal["queued"]


class AlertCommandQueued(Alert):
    """The evaluator did not apply the command within 5 s: it is queued and will be."""

    command: Command


class StoredEvent(BaseModel):
    model_config = _Open
    id: str
    type: str
    time: AwareDatetime


class AlertContext(BaseModel):
    model_config = _Closed
    alert: str
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    items: list[StoredEvent]
    next_cursor: str | None


class Silence(BaseModel):
    model_config = _Closed
    id: str
    matchers: dict[str, str]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    comment: str | None
    by: str | None
    active: bool


class SilencePage(BaseModel):
    model_config = _Closed
    items: list[Silence]
    next_cursor: str | None


class Notification(BaseModel):
    """One notification of a dry run with `render` (delivery/preview.py): nothing is sent."""

    model_config = _Closed
    channel: str = Field(json_schema_extra={"enum": registered_kinds()})
    target: str = Field(description="the channel's name, the e-mail address or the phone number")
    method: str | None
    url: str | None
    headers: dict[str, str]
    subject: str | None = Field(description="e-mail only")
    body: Any = Field(description="parsed when JSON (an object for a form), else text; null when none")
    render_warnings: list[str]
    error: str | None = Field(description="why it would not be delivered (or not previewed)")


class DryRunAlertEvent(BaseModel):
    model_config = _Closed
    monitor: str
    key: dict[str, Any]
    kind: str
    at: AwareDatetime
    severity: str
    targets: list[str]
    notifications: list[Notification] | None = Field(default=None, description="with `render` only")


class FaultRow(BaseModel):
    model_config = _Closed
    monitor: str
    error: str
    stage: str
    at: AwareDatetime
    event_id: str | None


class DryRunResult(BaseModel):
    model_config = _Closed
    ok: bool
    diagnostics: list[Diagnostic]
    alert_events: list[DryRunAlertEvent]
    monitor_errors: list[FaultRow] = Field(description="monitors that failed on the way (the others went on)")


class BacktestAlertEvent(DryRunAlertEvent):
    alert_id: str
    value: float | None
    threshold: float | None


class BacktestResult(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    ok: bool
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    events: int = Field(description="stored events replayed")
    alert_events: list[BacktestAlertEvent]
    total: int = Field(description="alert events the replay made (not muted)")
    truncated: bool = Field(description="more than `limit`: the earliest are listed")
    diagnostics: list[Diagnostic]
    monitor_errors: list[FaultRow]


class Replica(BaseModel):
    model_config = _Closed
    id: str = Field(description="host:pid:random, also the owner in its leases")
    started_at: AwareDatetime
    heartbeat_at: AwareDatetime
    partitions: list[int] = Field(description="the partitions whose lease it holds now")


class Cluster(BaseModel):
    model_config = _Closed
    partitions: int = Field(ge=1, description="TOCSIN_EVALUATOR_PARTITIONS, as stored")
    replicas: list[Replica] = Field(description="live evaluating replicas, oldest first")


class Health(BaseModel):
    model_config = _Closed
    status: Literal["ok"]


class Ready(BaseModel):
    model_config = _Closed
    status: Literal["ready"]
    checks: dict[str, bool]
