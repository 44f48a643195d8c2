"""The event envelope at the HTTP edge (events.md): validation and CloudEvents mapping.

    events, errors = validate_batch(items, now=now)

`errors` are `{"index", "path", "message"}` with `path` a JSON Pointer (RFC 6901) into
the request body: `/0/execution/duration` in a batch, `/execution/duration` for a single
object. `events` are the envelopes to store: as sent, with `time` normalized to RFC 3339
UTC (the receive time when absent).

Times (`time`, `execution.started_at`) are RFC 3339 text, as events.md asks: a full
date, `T` (or `t`, or a space, which RFC 3339 § 5.6 allows for readability), a time with
seconds and optional fraction, and `Z` or a `±hh:mm` offset. Pydantic alone would also
take Unix seconds (`1700000000`, or as a string), times without seconds and `+0100`;
a client sending those most likely means something else (milliseconds, local time), so
they are a 422 at the field's path rather than a guess.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from engine.times import EARLIEST, LATEST, is_rfc3339, rfc3339

MAX_EVENT_BYTES = 64 * 1024
MAX_REQUEST_BYTES = 1024 * 1024
MAX_BATCH = 1000
MAX_DATA_DEPTH = 32
MAX_FUTURE = timedelta(minutes=5)
TYPE_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"
# BSON stores integers in at most 64 bits; larger ones cannot be stored (send them as strings).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_Strict = ConfigDict(extra="forbid", strict=True)


def _rfc3339_text(value: Any) -> Any:
    """Let only RFC 3339 text on to pydantic's datetime parsing (see the module doc)."""
    if isinstance(value, str) and is_rfc3339(value):
        return value
    raise PydanticCustomError(
        "rfc3339", "must be an RFC 3339 timestamp with an offset, such as 2026-11-22T07:30:00Z")


# strict=False: the model is strict, and a strict datetime takes no text at all.
Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), Field(strict=False)]


class Instance(BaseModel):
    model_config = _Strict
    id: str | None = None
    name: str | None = None


class Customer(BaseModel):
    model_config = _Strict
    name: str | None = None
    external_id: str | None = None


class Execution(BaseModel):
    model_config = _Strict
    id: str | None = None
    duration: Annotated[float, Field(ge=0, strict=False, allow_inf_nan=False)] | None = None
    attempt: Annotated[int, Field(ge=0, le=INT64_MAX)] | None = None
    will_retry: bool | None = None
    started_at: Rfc3339 | None = None


class Connection(BaseModel):
    model_config = _Strict
    name: str | None = None
    error: str | None = None


class Event(BaseModel):
    """One event as a client may send it (events.md); `caused_by` is the service's own."""

    model_config = _Strict
    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: Annotated[str, Field(max_length=100, pattern=TYPE_PATTERN)]
    time: Rfc3339 | None = None
    source: str | None = None
    instance: Instance | None = None
    customer: Customer | None = None
    flow: str | None = None
    step: str | None = None
    execution: Execution | None = None
    connection: Connection | None = None
    level: Literal["debug", "info", "warn", "error", "fatal"] | None = None
    message: str | None = None
    data: dict[str, Any] | None = None


class TooLarge(Exception):
    """A size limit was exceeded: the request is answered 413."""


def _depth(value: Any) -> int:
    """Nesting depth of objects/arrays (a flat object is 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DATA_DEPTH:
            return deepest
        stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _bad_text(text: str) -> bool:
    """Unpaired surrogates (`"\\ud800"` parses in Python) cannot be encoded as UTF-8 for BSON."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _leaf_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return "text with an unpaired surrogate (not Unicode)" if _bad_text(value) else None
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        return "integer outside the 64-bit range (send it as a string)"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    return None


def _storage_problem(raw: Any, prefix: str) -> tuple[str, str] | None:
    """(JSON Pointer, message) of the first value MongoDB cannot store, else None.

    Field names with NUL or unpaired surrogates, such text values, integers beyond 64
    bits, NaN and infinities. Walked without recursion (depth is checked elsewhere); the
    pointer is only built for the value it reports.
    """
    stack: list[tuple[Any, tuple]] = [(raw, ())]
    while stack:
        node, where = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in pairs:
            if isinstance(key, str) and ("\x00" in key or _bad_text(key)):
                return _pointer_of(prefix, (*where, key)), "a field name with a NUL character or an unpaired surrogate"
            if isinstance(child, dict | list):
                stack.append((child, (*where, key)))
            elif (message := _leaf_problem(child)) is not None:
                return _pointer_of(prefix, (*where, key)), message
    return None


def _pointer_of(prefix: str, keys: tuple) -> str:
    return prefix + "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in keys)


def _too_large(raw: dict, body_bytes: int | None) -> bool:
    """Is the event's compact JSON over 64 KiB? A request body of at most a fifth of that
    cannot hold one (re-serializing grows a JSON text at most 4.5 times: `1e15` becomes
    `1000000000000000.0`), so small requests skip the serialization."""
    if body_bytes is not None and body_bytes * 5 <= MAX_EVENT_BYTES:
        return False
    text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    return (len(text) if text.isascii() else len(text.encode())) > MAX_EVENT_BYTES


def _time_problem(value: datetime | None) -> str | None:
    """Times are kept as UTC RFC 3339 with a 4-digit year: 1970 to 9000 covers every real event."""
    if value is None:
        return None
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        return "out of range"
    return None if EARLIEST <= utc < LATEST else "must be between 1970 and 9000"


def _pointer(prefix: str, loc: tuple) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    return prefix + "".join("/" + p for p in parts)


def _message(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field (custom fields belong in `data`)"
    if err["type"] == "string_pattern_mismatch":
        return "must be lower-case `family.action`, e.g. `execution.failed`"
    return err["msg"]


def validate_event(raw: Any, index: int, prefix: str, now: datetime,
                   max_future: timedelta | None = MAX_FUTURE, *,
                   body_bytes: int | None = None) -> tuple[dict | None, list[dict]]:
    """One envelope -> (stored form, errors); `max_future=None` allows any time (dry runs);
    `body_bytes` is the size of the request that carried it, when known."""
    if not isinstance(raw, dict):
        return None, [{"index": index, "path": prefix or "", "message": "an event must be a JSON object"}]
    unstorable = _storage_problem(raw, prefix)
    if unstorable is not None:
        return None, [{"index": index, "path": unstorable[0], "message": unstorable[1]}]
    if isinstance(raw.get("data"), dict | list) and _depth(raw["data"]) > MAX_DATA_DEPTH:
        # Before anything recursive (json.dumps, pydantic) meets the deep value.
        return None, [{"index": index, "path": f"{prefix}/data", "message": "nested deeper than 32 levels"}]
    if _too_large(raw, body_bytes):
        raise TooLarge(f"event {index} is larger than 64 KiB")
    try:
        event = Event.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"index": index, "path": _pointer(prefix, e["loc"]), "message": _message(e)}
            for e in exc.errors(include_url=False)
        ]
        return None, errors
    errors = []
    for path, value in (("/time", event.time), ("/execution/started_at", event.execution and event.execution.started_at)):
        if (message := _time_problem(value)) is not None:
            errors.append({"index": index, "path": prefix + path, "message": message})
    if not errors and event.time is not None and max_future is not None and event.time - now > max_future:
        errors.append({"index": index, "path": f"{prefix}/time", "message": "more than 5 minutes in the future"})
    if errors:
        return None, errors
    stored = dict(raw)
    stored["time"] = rfc3339(event.time or now)
    return stored, []


def validate_batch(items: list[Any], *, now: datetime, single: bool,
                   body_bytes: int | None = None) -> tuple[list[dict], list[dict]]:
    """Validate every item; all errors are reported, and any error rejects the batch."""
    if len(items) > MAX_BATCH:
        raise TooLarge(f"a request holds at most {MAX_BATCH} events")
    events, errors = [], []
    for i, raw in enumerate(items):
        stored, errs = validate_event(raw, i, "" if single else f"/{i}", now, body_bytes=body_bytes)
        errors.extend(errs)
        if stored is not None:
            events.append(stored)
    return (events if not errors else []), errors


_LIFTED = ("instance", "customer", "flow", "step", "execution", "connection", "level", "message")
_CE_REQUIRED = ("specversion", "id", "source", "type")


def from_cloudevent(ce: Any) -> Any:
    """A CloudEvents 1.0 structured event -> our envelope (events.md § CloudEvents).

    `id type time source` map directly, `subject` to `instance.name`, `data` to `data`;
    envelope fields carried in `data` (`flow`, `execution`, …) are lifted to the top.
    Other CloudEvents attributes and extensions are dropped. A non-object is returned
    as is, so validation reports it.
    """
    if not isinstance(ce, dict):
        return ce
    event: dict[str, Any] = {k: ce[k] for k in ("id", "type", "time", "source") if k in ce}
    data = ce.get("data")
    if isinstance(data, dict):
        data = dict(data)
        for name in _LIFTED:
            if name in data:
                event[name] = data.pop(name)
        if data:
            event["data"] = data
    elif data is not None:
        event["data"] = {"value": data}
    if "subject" in ce:
        instance = dict(event.get("instance") or {}) if isinstance(event.get("instance"), dict | None) else {}
        instance.setdefault("name", ce["subject"])
        event["instance"] = instance
    return event


def cloudevent_errors(ce: Any, index: int, prefix: str) -> list[dict]:
    """CloudEvents-level problems (missing required attributes, wrong specversion)."""
    if not isinstance(ce, dict):
        return []
    errors = [
        {"index": index, "path": f"{prefix}/{k}", "message": "required CloudEvents attribute"}
        for k in _CE_REQUIRED
        if k not in ce
    ]
    if "specversion" in ce and ce["specversion"] != "1.0":
        errors.append({"index": index, "path": f"{prefix}/specversion", "message": "only CloudEvents 1.0"})
    return errors
