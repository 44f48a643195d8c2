"""`event.…` in a template: which paths an event of a family has, may lack, or never has.

At send time `event` is a plain dict, the stored envelope (spec/events.md), not the
field resolution of conditions: `{{ event.duration }}` is never
`execution.duration`. So, for events of one family:

- `id`, `type`, `time`: every stored event has them (PRESENT);
- the other envelope fields (`flow`, `message`, `instance.name`, `data.x`, …): a sender
  may leave any of them out (OPTIONAL), whatever the family's usual fields are (an
  `execution.failed` without `message` is valid);
- the service's own families (`alert.*`, `notification.*`) also always carry
  `source`, `caused_by` and their documented `data` keys (PRESENT);
- anything else is never there (ABSENT): an envelope field that does not exist
  (`event.instnace`), a sub-field the envelope object does not have
  (`event.instance.nmae`), `caused_by` on an event a client sent;
- custom families are the sender's contract: their envelope names are OPEN (not
  judged present or missing) and `data` below them too; only names the envelope
  never has are ABSENT, since the service rejects unknown top-level fields of every
  event.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl import catalog as C
from dsl.suggest import closest

PRESENT = "present"
OPTIONAL = "optional"
ABSENT = "absent"
OPEN = "open"


@dataclass(frozen=True, slots=True)
class FieldStatus:
    """`status` of `event.<steps>`; for ABSENT, `at` is the index of the step that is not
    there and `hint` what the author probably meant."""

    status: str
    at: int = 0
    hint: str | None = None


def family_kind(family: str | None) -> str:
    """`service`, `builtin` (events clients send) or `custom`."""
    if family in C.SERVICE_FAMILIES:
        return "service"
    return "builtin" if family in C.BUILTIN_TYPES else "custom"


def event_field(steps: tuple[str, ...], family: str | None) -> FieldStatus:
    """The status of `event.<steps>` in events of `family` (None: any family)."""
    kind = family_kind(family)
    head = steps[0]
    if head in C.EVENT_ALWAYS:
        return FieldStatus(PRESENT)
    if head == "data":
        return FieldStatus(_data(steps, family, kind))
    if head in C.SERVICE_ENVELOPE_OBJECTS:
        if kind != "service":
            return FieldStatus(ABSENT, 0, "only the service's own events (`alert.*`, "
                               "`notification.*`) carry `caused_by`")
        return _object(steps, C.SERVICE_ENVELOPE_OBJECTS[head], PRESENT)
    if head == "source" and kind == "service":
        return FieldStatus(PRESENT)
    missing = OPEN if kind == "custom" else OPTIONAL
    if head in C.ENVELOPE_SCALARS:
        return FieldStatus(missing)
    if head in C.ENVELOPE_OBJECTS:
        return _object(steps, C.ENVELOPE_OBJECTS[head], missing)
    return FieldStatus(ABSENT, 0, _top_level_hint(steps, family))


def _data(steps: tuple[str, ...], family: str | None, kind: str) -> str:
    if kind == "custom":
        return OPEN
    if kind == "builtin":
        return OPTIONAL
    return PRESENT if len(steps) == 1 or steps[1] in C.FAMILY_FIELDS[family] else OPTIONAL


def _object(steps: tuple[str, ...], fields: dict[str, str], status: str) -> FieldStatus:
    if len(steps) == 1 or steps[1] in fields:
        return FieldStatus(status)
    match = closest(steps[1], fields)
    hint = f"did you mean `event.{steps[0]}.{match}`?" if match else \
        "its fields: " + ", ".join(f"`event.{steps[0]}.{f}`" for f in fields)
    return FieldStatus(ABSENT, 1, hint)


def envelope_names(family: str | None) -> tuple[str, ...]:
    """The top-level names an event of `family` can have."""
    names = (*C.EVENT_ALWAYS, *C.ENVELOPE_SCALARS, *C.ENVELOPE_OBJECTS, "data")
    if family_kind(family) == "service":
        names += tuple(C.SERVICE_ENVELOPE_OBJECTS)
    return tuple(dict.fromkeys(names))


def _top_level_hint(steps: tuple[str, ...], family: str | None) -> str:
    """The family's own object (`duration` is `event.execution.duration`), the envelope
    field a condition's `log.level` means (`event.level`), a close envelope name, else
    `data`, where custom fields live."""
    kind, head = family_kind(family), steps[0]
    if head in C.FAMILY_FIELDS and len(steps) > 1 and steps[1] in C.ENVELOPE_SCALARS:
        return f"did you mean `event.{steps[1]}`? (a condition's `{head}.{steps[1]}` is that field)"
    if kind == "builtin" and family in C.ENVELOPE_OBJECTS and head in C.ENVELOPE_OBJECTS[family]:
        return f"did you mean `event.{family}.{head}`? (a condition's `{head}` is that field)"
    if kind == "service" and head in C.FAMILY_FIELDS[family]:
        return f"did you mean `event.data.{head}`?"
    match = closest(head, envelope_names(family))
    if match is not None:
        return f"did you mean `event.{match}`?"
    return f"custom fields live under `event.data`: `event.data.{head}`"
