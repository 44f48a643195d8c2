"""Reading fields out of an event envelope (events.md), the way the language says.

A path resolves in this order (language.md § Conditions): as written in the envelope
(`instance.name`, `flow`, `level`); then under the event's family object (`duration` in
an `execution.*` event is `execution.duration`; `log.level` in a `log.*` event is the
envelope's `level`); then under `data`. A path starting with `event.` is explicit and
resolves from the envelope root only. JSON `null` counts as absent.

Also here: the orderings of log levels and severities, event times as integer
milliseconds, and the alert key of an event.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from dsl.catalog import LOG_LEVELS, SEVERITIES

MISSING: Any = None  # absent and JSON null are the same thing to a monitor

LEVEL_RANK = {name: i for i, name in enumerate(LOG_LEVELS)}
SEVERITY_RANK = {name: i for i, name in enumerate(SEVERITIES)}

Resolver = Callable[[dict, str], Any]  # (event, family) -> value or MISSING


def _dig(obj: Any, parts: tuple[str, ...]) -> Any:
    for p in parts:
        if not isinstance(obj, dict):
            return MISSING
        obj = obj.get(p)
        if obj is None:
            return MISSING
    return obj


def _under_family_or_data(ev: dict, fam: str, parts: tuple[str, ...]) -> Any:
    v = _dig(ev.get(fam), parts)
    return v if v is not None else _dig(ev.get("data"), parts)


def resolver(parts: tuple[str, ...]) -> Resolver:
    """A function reading `parts` from an event; see the module docstring for the order."""
    if parts and parts[0] == "event" and len(parts) > 1:
        explicit = parts[1:]
        return lambda ev, fam: _dig(ev, explicit)
    head, rest = parts[0], parts[1:]
    if not rest:
        def single(ev: dict, fam: str) -> Any:
            v = ev.get(head)
            return v if v is not None else _under_family_or_data(ev, fam, parts)
        return single

    within_family = resolver(rest)
    if len(rest) == 1:
        inner = rest[0]

        def pair(ev: dict, fam: str) -> Any:  # the common `execution.duration`, unrolled
            obj = ev.get(head)
            if isinstance(obj, dict):
                v = obj.get(inner)
                if v is not None:
                    return v
            if head == fam:
                v = within_family(ev, fam)
                if v is not None:
                    return v
            return _under_family_or_data(ev, fam, parts)
        return pair

    def nested(ev: dict, fam: str) -> Any:
        v = _dig(ev, parts)
        if v is not None:
            return v
        if head == fam:  # `log.level` in a log event is its `level`, `order.total` its data.total
            v = within_family(ev, fam)
            if v is not None:
                return v
        return _under_family_or_data(ev, fam, parts)
    return nested


def instance_key(ev: dict) -> Any:
    inst = ev.get("instance")
    if isinstance(inst, dict):
        return inst.get("id") or inst.get("name")
    return MISSING


def customer_key(ev: dict) -> Any:
    cust = ev.get("customer")
    if isinstance(cust, dict):
        return cust.get("external_id") or cust.get("name")
    return MISSING


def key_field(parts: tuple[str, ...]) -> Resolver:
    """The value a `by` field keys on: `instance` and `customer` use their stable ids."""
    if parts == ("instance",):
        return lambda ev, fam: instance_key(ev)
    if parts == ("customer",):
        return lambda ev, fam: customer_key(ev)
    return resolver(parts)


def default_key(ev: dict, fam: str) -> dict[str, Any]:
    """Without `by`: the instance (id, else name) and the flow, where present."""
    key: dict[str, Any] = {}
    inst = instance_key(ev)
    if inst is not None:
        key["instance"] = inst
    flow = ev.get("flow")
    if flow is not None:
        key["flow"] = flow
    return key


def default_key_values(ev: dict, fam: str) -> tuple | None:
    """The values `default_key` is made of, as a cache key (see `cacheable`)."""
    inst = ev.get("instance")
    i = (inst.get("id") or inst.get("name")) if isinstance(inst, dict) else None
    f = ev.get("flow")
    if (i is None or type(i) is str) and (f is None or type(f) is str):
        return (i, f)
    return None


def cacheable(values: tuple) -> tuple | None:
    """`values` when they can stand for the key they make (equal values, equal key
    text): only texts, integers and nulls (1 == 1.0 == True, yet they key differently)."""
    for v in values:
        if v is not None and type(v) is not str and type(v) is not int:
            return None
    return values


_key_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode
_quote = json.encoder.encode_basestring_ascii


def key_id(key: dict[str, Any]) -> str:
    """Canonical text of a key (its sorted compact JSON): equal keys, equal text."""
    if len(key) <= 2 and all(type(v) is str for v in key.values()):  # the hot path
        return "{" + ",".join(f"{_quote(k)}:{_quote(v)}" for k, v in sorted(key.items())) + "}"
    return _key_json(key)


def scope_values(ev: dict, scope: str) -> tuple:
    """The values an `on SCOPE "X"` clause may match: instance name or id, customer name
    or external id, the flow."""
    if scope == "flow":
        values: tuple = (ev.get("flow"),)
    else:
        obj = ev.get(scope)
        if not isinstance(obj, dict):
            return ()
        values = (obj.get("id"), obj.get("name")) if scope == "instance" else \
            (obj.get("name"), obj.get("external_id"))
    return tuple(v for v in values if type(v) is str)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def to_ms(t: datetime) -> int:
    """A datetime as integer milliseconds since the epoch (the engine's time unit);
    a naive datetime (as PyMongo returns by default) is taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return (t - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def event_ms(ev: dict) -> int:
    """The event's `time` in milliseconds (`time` is always set by the caller: an RFC
    3339 text or a datetime, naive meaning UTC)."""
    t = ev["time"]
    if type(t) is str:
        t = _fromisoformat(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return (t - EPOCH) // _MS


from engine.times import read_written as _fromisoformat  # noqa: E402  (one RFC 3339 module)
