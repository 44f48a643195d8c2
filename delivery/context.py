"""The template context of one delivery (language.md § Templates).

`monitor` (name, severity, labels), `alert` (the standard alert document: id, status,
kind, key, count, value, threshold, fired_at, resolved_at, url, labels, message),
`event` (the triggering event, `{}` when there is none), `group` (name, members as
`{kind, value}`; None outside a group), `secrets.NAME`, and the Prismatic `$VARS`.
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


def prismatic_vars(request: DeliveryRequest) -> dict[str, str]:
    """Prismatic's alert variables; an unknown one is the empty string."""
    doc = request.document
    event = doc.get("event") or {}
    instance = event.get("instance") or {}
    customer = event.get("customer") or {}
    execution = event.get("execution") or {}
    name = request.monitor.get("name") or ""

    def s(value: Any) -> str:
        return "" if value is None else str(value)

    return {
        "SUBJECT": f"{name} Alert",
        "NAME": name,
        "INSTANCE": s(instance.get("name")),
        "INSTANCE_ID": s(instance.get("id")),
        "EXECUTION_ID": s(execution.get("id")),
        "CUSTOMER": s(customer.get("name")),
        "CUSTOMER_EXTERNAL_ID": s(customer.get("external_id")),
        "FLOW": s(event.get("flow")),
        "TRIGGER": s(event.get("type")),
        "STEP": s(event.get("step")),
        "URL": s(doc.get("url")),
    }


def build_context(request: DeliveryRequest, secrets: Secrets | None) -> dict[str, Any]:
    """The context for every template of this delivery (`alert.message` once rendered)."""
    return {
        "monitor": dict(request.monitor),
        "alert": dict(request.document),
        "event": request.document.get("event") or {},
        "group": request.group,
        "secrets": SecretsView(secrets),
        "_prismatic": prismatic_vars(request),
    }
