"""The template context of one delivery (language.md § Templates).

`monitor` (name, severity, labels), `alert` (the standard alert document: id, status,
kind, key, count, value, threshold, fired_at, resolved_at, url, labels, message),
`event` (the alert's last triggering event, `{}` when it never had one), `group` (name,
members as `{kind, value}`; None outside a group), `secrets.NAME`, and the Prismatic
`$VARS`.

`alert_facts()` is the one place that says where a notification's instance, flow,
step, customer, execution and error come from: the event first, else the alert's key
(an overdue alert has no event, but its key holds the flow and the instance).

The checker knows this context as `dsl.catalog`'s TEMPLATE_VARIABLES, TEMPLATE_FIELDS
and PRISMATIC_VARIABLES; tests/dsl/test_template_types.py builds a context here and
holds the two together, so a field added here must be added there.
"""

from __future__ import annotations

from typing import Any

from delivery.errors import SecretMissing
from delivery.request import DeliveryRequest
from delivery.secrets import Secrets


class SecretsView:
    """`{{ secrets.NAME }}`: looks the value up when the template asks, nothing else."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Secrets | None) -> None:
        self._secrets = secrets

    def __getattr__(self, name: str) -> str:
        value = self._secrets.get(name) if self._secrets is not None else None
        if value is None:
            raise SecretMissing(f"secret {name} is not set (TOCSIN_SECRET_{name})")
        return value

    __getitem__ = __getattr__

    def __repr__(self) -> str:  # never print values
        return "<secrets>"


class AlertKey(dict):
    """An alert's key that prints as people write it: `login_location=ZA, flow=Sync`.

    Still a dict for templates (`alert.key.flow`, `alert.key | tojson`)."""

    def __str__(self) -> str:
        return format_key(self)

    __repr__ = __str__


def format_key(key: dict[str, Any] | None) -> str:
    """`a=1, b=x`; an empty or missing key is the empty string."""
    return ", ".join(f"{k}={'' if v is None else v}" for k, v in (key or {}).items())


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def alert_facts(request: DeliveryRequest) -> dict[str, str]:
    """What the alert is about, each an always-present string ("" when unknown):
    instance, instance_id, flow, step, customer, customer_external_id, execution_id,
    connection, error, trigger."""
    doc = request.document
    event = _obj(doc.get("event"))
    key = _obj(doc.get("key"))
    instance, customer = _obj(event.get("instance")), _obj(event.get("customer"))
    execution, connection = _obj(event.get("execution")), _obj(event.get("connection"))

    def pick(*values: Any) -> str:
        return next((t for t in map(_text, values) if t), "")

    return {
        "instance": pick(instance.get("name"), key.get("instance.name"), key.get("instance"),
                         instance.get("id"), key.get("instance.id")),
        "instance_id": pick(instance.get("id"), key.get("instance.id")),
        "flow": pick(event.get("flow"), key.get("flow")),
        "step": pick(event.get("step"), key.get("step")),
        "customer": pick(customer.get("name"), key.get("customer.name"), key.get("customer")),
        "customer_external_id": pick(customer.get("external_id"), key.get("customer.external_id")),
        "execution_id": pick(execution.get("id"), key.get("execution.id")),
        "connection": pick(connection.get("name"), key.get("connection.name")),
        "error": pick(event.get("message"), connection.get("error")),
        "trigger": pick((request.extra or {}).get("trigger"), request.monitor.get("name")),
    }


def prismatic_vars(request: DeliveryRequest, facts: dict[str, str] | None = None) -> dict[str, str]:
    """Prismatic's alert variables; an unknown one is the empty string."""
    facts = facts or alert_facts(request)
    name = _text(request.monitor.get("name"))
    return {
        "SUBJECT": f"{name} Alert",
        "NAME": name,
        "INSTANCE": facts["instance"],
        "INSTANCE_ID": facts["instance_id"],
        "EXECUTION_ID": facts["execution_id"],
        "CUSTOMER": facts["customer"],
        "CUSTOMER_EXTERNAL_ID": facts["customer_external_id"],
        "FLOW": facts["flow"],
        "TRIGGER": facts["trigger"],
        "STEP": facts["step"],
        "URL": _text(request.document.get("url")),
    }


def build_context(request: DeliveryRequest, secrets: Secrets | None) -> dict[str, Any]:
    """The context for every template of this delivery (`alert.message` once rendered)."""
    alert = dict(request.document)
    alert["key"] = AlertKey(_obj(alert.get("key")))
    return {
        "monitor": dict(request.monitor),
        "alert": alert,
        "event": _obj(request.document.get("event")),
        "group": request.group,
        "secrets": SecretsView(secrets),
        "_prismatic": prismatic_vars(request),
    }
