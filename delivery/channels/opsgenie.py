"""Opsgenie Alert API v2: create on fired/repeated/escalated, close on resolved.

    POST {api_url}/v2/alerts                                     create
    POST {api_url}/v2/alerts/{alias}/close?identifierType=alias  close
    Authorization: GenieKey {api_key}

`alias` is the alert id: Opsgenie folds a create whose alias matches an open alert into
that alert, so a retried or repeated notification lands on one Opsgenie alert and the
resolve closes it. `message` is the first line of the rendered message (Opsgenie caps
it at 130 characters), `description` the whole message and the alert's link;
`priority` comes from the severity (critical P1, error P2, warning P3, info P5);
`source` is `tocsin`; `details` (string values) add the monitor, flow, step, customer,
error, key and figures. An api key or api url that cannot render fails the delivery.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from delivery.channels import channel
from delivery.context import alert_facts, format_key
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from delivery.texts import one_line
from dsl.channels.opsgenie import OpsgenieChannel

PRIORITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}
MAX_MESSAGE = 130
MAX_DESCRIPTION = 15000
MAX_ENTITY = 512


def create_body(request: DeliveryRequest, ctx: SendContext) -> dict[str, Any]:
    """The create-alert request of one fired/repeated/escalated notification."""
    doc = request.document
    facts = alert_facts(request)
    first = next((line for line in ctx.message.splitlines() if line.strip()), "")
    details = {
        "monitor": doc.get("monitor"), "kind": doc.get("kind"), "trigger": facts["trigger"],
        "instance": facts["instance"], "flow": facts["flow"], "step": facts["step"],
        "customer": facts["customer"], "error": facts["error"], "key": format_key(doc.get("key")),
        "count": doc.get("count"), "value": doc.get("value"), "threshold": doc.get("threshold"),
        "fired_at": doc.get("fired_at"), "url": doc.get("url"),
    }
    body = {
        "message": one_line(first or str(doc.get("monitor") or "alert"), MAX_MESSAGE),
        "alias": doc["id"],
        "description": f"{ctx.message}\n\n{doc.get('url') or ''}".strip()[:MAX_DESCRIPTION],
        "priority": PRIORITIES.get(str(doc.get("severity")), "P3"),
        "source": "tocsin",
        "entity": facts["instance"][:MAX_ENTITY],
        "details": {k: str(v) for k, v in details.items() if v not in (None, "")},
    }
    return {k: v for k, v in body.items() if v != ""}


def close_body(request: DeliveryRequest) -> dict[str, Any]:
    return {"source": "tocsin", "note": f"resolved in Tocsin: {request.document.get('url') or ''}".strip()}


@channel("opsgenie")
def send_opsgenie(request: DeliveryRequest, config: OpsgenieChannel, ctx: SendContext) -> httpx.Response:
    api_key = ctx.destination(config.api_key, where="api_key")
    base = ctx.destination(config.api_url, where="api_url", url=True).rstrip("/")
    alias = request.document["id"]
    if request.document.get("kind") == "resolved":
        url = f"{base}/v2/alerts/{quote(alias, safe='')}/close?identifierType=alias"
        body = close_body(request)
    else:
        url = f"{base}/v2/alerts"
        body = create_body(request, ctx)
    return ctx.runtime.rules_http.post(
        url, content=ctx.json_body(body, where="body").encode(), timeout=config.timeout,
        headers={"Content-Type": "application/json", "Authorization": f"GenieKey {api_key}"},
    )
