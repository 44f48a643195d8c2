"""What the checker knows about the world: event types, fields, block settings.

Everything here follows spec/events.md and spec/language.md. Field types are the names
of `dsl.exprtypes` (plain strings, so this module stays a table with no logic).
"""

from __future__ import annotations

from dsl.channels import kinds as channel_kinds

# ------------------------------------------------------------------------- types

STRING = "string"
NUMBER = "number"
DURATION = "duration"
PERCENT = "percent"
BOOL = "bool"
LEVEL = "level"
SEVERITY = "severity"
LIST = "list"
NULL = "null"
OBJECT = "object"
UNKNOWN = "unknown"

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
SEVERITIES = ("info", "warning", "error", "critical")
DEFAULT_SEVERITY = "error"  # a monitor without a `severity` clause

# -------------------------------------------------------------------- event types

BUILTIN_TYPES: dict[str, tuple[str, ...]] = {
    "execution": ("started", "completed", "failed", "retry_pending"),
    "instance": ("enabled", "disabled", "removed"),
    "log": ("written",),
    "connection": ("error",),
    "alert": ("fired", "resolved", "acknowledged", "escalated"),
    "notification": ("sent", "failed"),
    "monitor": ("error",),
}

ALL_BUILTIN_TYPES = tuple(f"{f}.{a}" for f, actions in BUILTIN_TYPES.items() for a in actions)

# ------------------------------------------------------------------------- fields

ENVELOPE_SCALARS: dict[str, str] = {
    "id": STRING,
    "type": STRING,
    "time": STRING,
    "source": STRING,
    "flow": STRING,
    "step": STRING,
    "message": STRING,
    "level": LEVEL,
}

# Envelope objects whose sub-fields are fixed: a typo under them is knowable.
ENVELOPE_OBJECTS: dict[str, dict[str, str]] = {
    "instance": {"id": STRING, "name": STRING},
    "customer": {"name": STRING, "external_id": STRING},
    "execution": {"id": STRING, "duration": DURATION, "attempt": NUMBER,
                  "will_retry": BOOL, "started_at": STRING},
    "connection": {"name": STRING, "error": STRING},
}

# Fields of each built-in family, as `FAMILY.FIELD` in a comparison trigger or a bare
# `FIELD` inside that family's events. `strict` families reject other fields; the
# service's own `alert`/`notification` events carry free-form `data`, so they don't.
FAMILY_FIELDS: dict[str, dict[str, str]] = {
    "execution": ENVELOPE_OBJECTS["execution"],
    "instance": ENVELOPE_OBJECTS["instance"],
    "connection": ENVELOPE_OBJECTS["connection"],
    "log": {"level": LEVEL, "message": STRING, "step": STRING, "flow": STRING},
    # The `data` of the service's own events, every key always set (service/outbox.py,
    # delivery/events.py; tests/dsl/test_template_types.py holds them together).
    "alert": {"monitor": STRING, "key": STRING, "value": NUMBER, "threshold": NUMBER,
              "severity": SEVERITY, "alert_id": STRING, "kind": STRING, "count": NUMBER},
    "notification": {"channel": STRING, "target": STRING, "status": STRING,
                     "attempts": NUMBER, "error": STRING, "status_code": NUMBER,
                     "alert_id": STRING, "alert_event_id": STRING, "delivery_id": STRING,
                     "monitor": STRING},
    # service/monitor_errors.py: a monitor was quarantined.
    "monitor": {"monitor": STRING, "error": STRING, "stage": STRING, "event_id": STRING,
                "file": STRING, "line": NUMBER},
}
STRICT_FAMILIES = frozenset({"execution", "instance", "connection", "log"})

# ------------------------------------------------------------------------ monitors

AGGREGATES = ("count", "rate", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99", "distinct")
COUNTING_AGGREGATES = ("count", "rate")
SCOPES = ("flow", "instance", "customer")
CONTACT_KINDS = ("email", "sms")
# One module per channel kind in dsl/channels/ declares it (its block settings too).
CHANNEL_KINDS = tuple(channel_kinds())
TARGET_KINDS = ("group", *CONTACT_KINDS, *CHANNEL_KINDS)
# Clauses by the keywords they start with (dsl.grammar.clause_words); the others may
# appear once per monitor.
REPEATABLE_CLAUSES = frozenset({"on", "notify", "escalate to", "label"})

# ---------------------------------------------------------------------- operators

# Binding strength, loosest first: dsl.precedence builds trees with it and
# dsl.formatter prints the fewest parentheses with it. `not` and unary `-` are prefix;
# comparisons do not associate; the other binary operators associate to the left, and
# `and`/`or` chains are kept balanced (they are associative).
OR, AND, NOT, COMPARE, SUM, PRODUCT, NEG = 1, 2, 3, 4, 5, 6, 7
BINARY_OPERATORS: dict[str, int] = {"or": OR, "and": AND, "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT}
CHAIN_OPERATORS = frozenset({"and", "or"})
COMPARISON_OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains",
                        "startswith", "endswith", "matches")
PREFIX_OPERATORS: dict[str, int] = {"not": NOT, "-": NEG}

# ------------------------------------------------------------------------- blocks

BLOCK_KINDS = (*CHANNEL_KINDS, "group", "schedule")

# setting -> repeatable?
SETTINGS: dict[str, dict[str, bool]] = {
    **{name: {s.key: s.repeatable for s in kind.settings} for name, kind in channel_kinds().items()},
    "group": {**dict.fromkeys(CONTACT_KINDS, True), **dict.fromkeys(CHANNEL_KINDS, True)},
    "schedule": {"days": True, "hours": True, "timezone": False},
}
REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    name: tuple(s.key for s in kind.settings if s.required) for name, kind in channel_kinds().items()
}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_TIMEOUT_SECONDS = 60
MAX_REGEX_LENGTH = 500

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# ---------------------------------------------------------------------- templates

# The render context of a notification, as delivery/context.py builds it (delivery
# imports these names; tests/dsl/test_template_types.py builds a real context and holds
# the two together). Field types as above; OBJECT is a dict with free keys, LIST a list,
# EVENT an event envelope. `group` is None when a notification does not go through a
# group; `secrets.NAME` takes any name.
EVENT = "event"
TEMPLATE_VARIABLES = ("monitor", "alert", "event", "group", "secrets")
TEMPLATE_FIELDS: dict[str, dict[str, str]] = {
    "monitor": {"name": STRING, "severity": SEVERITY, "labels": OBJECT, "runbook": STRING},
    "alert": {"id": STRING, "monitor": STRING, "severity": SEVERITY, "status": STRING,
              "kind": STRING, "key": OBJECT, "count": NUMBER, "value": NUMBER,
              "threshold": NUMBER, "fired_at": STRING, "resolved_at": STRING, "url": STRING,
              "labels": OBJECT, "message": STRING, "event": EVENT},
    "group": {"name": STRING, "members": LIST},
}
PRISMATIC_VARIABLES = ("SUBJECT", "NAME", "INSTANCE", "INSTANCE_ID", "EXECUTION_ID", "CUSTOMER",
                       "CUSTOMER_EXTERNAL_ID", "FLOW", "TRIGGER", "STEP", "URL")
# The `$VARIABLE` that holds an event field, falling back to the alert's key when the
# event lacks it (delivery/context.py `alert_facts`): the hint for a field that may be missing.
PRISMATIC_EVENT_FIELDS: dict[str, str] = {
    "instance.name": "INSTANCE", "instance.id": "INSTANCE_ID", "flow": "FLOW", "step": "STEP",
    "customer.name": "CUSTOMER", "customer.external_id": "CUSTOMER_EXTERNAL_ID",
    "execution.id": "EXECUTION_ID",
}

# What a template can count on in an event: every stored event has these envelope
# fields (`time` is the receive time when the sender left it out); everything else a
# sender may leave out. The service's own families also always carry `source`, `data`
# (FAMILY_FIELDS) and `caused_by`, which no client event can carry.
EVENT_ALWAYS = ("id", "type", "time")
SERVICE_FAMILIES = ("alert", "notification", "monitor")
SERVICE_ENVELOPE_OBJECTS: dict[str, dict[str, str]] = {
    "caused_by": {"monitors": LIST, "depth": NUMBER},
}
