"""Event patterns and field paths: is `execution.faild` a type, what is `duration`?

A field path resolves against an event in the order of spec/language.md: the envelope
as written (`instance.name`, `flow`), then the event family's object (`duration` in an
`execution.*` event), then `data`. Only what can be known is reported: a misspelled
sub-field of an envelope object (`instance.nmae`) or of a built-in family's field; any
other path may live in `data` and has an unknown type.
"""

from __future__ import annotations

import re

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error
from dsl.suggest import closest, did_you_mean

_TYPE_PART = re.compile(r"[a-z0-9_]+")


def family_of(pattern: A.Path) -> str:
    """`execution` for `execution.failed` and `execution.*`."""
    return pattern.parts[0]


def check_pattern(pattern: A.Path) -> Diagnostic | None:
    """E201 for an event pattern that can never name an event type, else None."""
    parts, span = pattern.parts, pattern.span
    if len(parts) == 1 and not pattern.star:
        guess = [t for t in C.ALL_BUILTIN_TYPES if t.split(".", 1)[1] == parts[0]]
        hint = f"did you mean `{guess[0]}`?" if guess else "event types are `family.action`, e.g. `order.placed`"
        return error(span, "E201", f"`{parts[0]}` is not an event type", hint)
    bad = [p for p in parts if not _TYPE_PART.fullmatch(p)]
    if bad:
        fixed = ".".join(p.lower().replace("-", "_") for p in parts) + (".*" if pattern.star else "")
        return error(span, "E201", f"`{pattern.dotted}` can never match: event types are lower case "
                     "letters, digits and `_`", f"did you mean `{fixed}`?")
    family = parts[0]
    if family not in C.BUILTIN_TYPES or (pattern.star and len(parts) == 1):
        return None
    action = ".".join(parts[1:])
    if not pattern.star and action in C.BUILTIN_TYPES[family]:
        return None
    known = [f"{family}.{a}" for a in C.BUILTIN_TYPES[family]]
    hint = did_you_mean(pattern.dotted, known, cutoff=0.5) or "known types: " + ", ".join(known)
    return error(span, "E201", f"unknown event type `{pattern.dotted}`", hint)


def resolve(path: A.Path, families: frozenset[str]) -> tuple[str, Diagnostic | None]:
    """The type of a field path in events of `families`, and an E202 when it is knowably wrong."""
    parts = path.parts
    if path.star:
        return C.UNKNOWN, error(path.span, "E202", f"`{path.dotted}` is a pattern, not a field")
    if parts[0] == "event" and len(parts) > 1:
        return _resolve_envelope(path, parts[1:], explicit=True)
    if parts[0] in C.ENVELOPE_SCALARS or parts[0] in C.ENVELOPE_OBJECTS or parts[0] == "data":
        return _resolve_envelope(path, parts, explicit=False)
    if parts[0] == "log" and len(parts) > 1 and ("log" in families or parts[1] in C.FAMILY_FIELDS["log"]):
        return _resolve_family(path, "log", parts[1:])
    for family in sorted(families):
        fields = C.FAMILY_FIELDS.get(family, {})
        if len(parts) == 1 and parts[0] in fields:
            return fields[parts[0]], None
    return C.UNKNOWN, None


def resolve_trigger_field(path: A.Path) -> tuple[str, Diagnostic | None]:
    """The field of a comparison trigger, `FAMILY.FIELD`: strict for built-in families."""
    family, rest = path.parts[0], path.parts[1:]
    if family in C.FAMILY_FIELDS:
        return _resolve_family(path, family, rest)
    if family in C.ENVELOPE_OBJECTS:  # `customer.name == "Acme"` on customer.* events
        fields = C.ENVELOPE_OBJECTS[family]
        if len(rest) == 1 and rest[0] in fields:
            return fields[rest[0]], None
    return C.UNKNOWN, None


def _resolve_family(path: A.Path, family: str, rest: tuple[str, ...]) -> tuple[str, Diagnostic | None]:
    fields = C.FAMILY_FIELDS[family]
    if len(rest) == 1 and rest[0] in fields:
        return fields[rest[0]], None
    if family not in C.STRICT_FAMILIES:
        return C.UNKNOWN, None
    return C.UNKNOWN, _unknown_field(path, family, rest[0], fields)


def _resolve_envelope(path: A.Path, parts: tuple[str, ...], explicit: bool) -> tuple[str, Diagnostic | None]:
    head = parts[0]
    if head == "data":
        return C.UNKNOWN, None
    if head in C.ENVELOPE_SCALARS:
        if len(parts) == 1:
            return C.ENVELOPE_SCALARS[head], None
        if explicit:
            return C.UNKNOWN, error(path.span, "E202", f"`{head}` is a {C.ENVELOPE_SCALARS[head]}, "
                                    f"it has no field `{parts[1]}`")
        return C.UNKNOWN, None  # e.g. `message.x` may still be data.message.x
    if head in C.ENVELOPE_OBJECTS:
        fields = C.ENVELOPE_OBJECTS[head]
        if len(parts) == 1:
            return C.OBJECT, None
        if len(parts) == 2 and parts[1] in fields:
            return fields[parts[1]], None
        return C.UNKNOWN, _unknown_field(path, head, parts[1], fields)
    known = list(C.ENVELOPE_SCALARS) + list(C.ENVELOPE_OBJECTS) + ["data"]
    hint = did_you_mean(head, known) or "custom fields live under `event.data`"
    return C.UNKNOWN, error(path.span, "E202", f"events have no field `{head}`", hint)


def _unknown_field(path: A.Path, head: str, name: str, fields: dict[str, str]) -> Diagnostic:
    match = closest(name, fields)
    prefix = ".".join(path.parts[: path.parts.index(head) + 1])
    hint = f"did you mean `{prefix}.{match}`?" if match else \
        "known fields: " + ", ".join(f"{prefix}.{f}" for f in fields)
    return error(path.span, "E202", f"unknown field `{path.dotted}`", hint)
