"""PagerDuty Events API v2: `trigger` on fired/repeated/escalated, `resolve` on resolved.

`dedup_key` is the alert id, so every round of one alert lands on one PagerDuty
incident and the resolve closes it. The summary is the rendered `message` (PagerDuty
caps it at 1024 characters); `source` is the alert's instance (event, else key), else
the event's `source`, else `tocsin`; `custom_details` add the flow, step, customer and
error. The routing key addresses the service: one that cannot render fails the delivery.
"""

from __future__ import annotations

from typing import Any

import httpx

from delivery.channels import channel
from delivery.context import alert_facts, format_key
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from dsl.channels.pagerduty import PagerDutyChannel

SEVERITIES = {"info": "info", "warning": "warning", "error": "error", "critical": "critical"}


def event_body(request: DeliveryRequest, routing_key: str, ctx: SendContext) -> dict[str, Any]:
    doc = request.document
    if doc.get("kind") == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": doc["id"]}
    event = doc.get("event") if isinstance(doc.get("event"), dict) else {}
    facts = alert_facts(request)
    source = facts["instance"] or event.get("source") or "tocsin"
    payload = {k: v for k, v in _payload(doc, event, facts, source, ctx).items() if v not in (None, "")}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": doc["id"],
        "payload": payload,
        "links": [{"href": doc.get("url"), "text": "Tocsin alert"}],
    }


def _payload(doc: dict[str, Any], event: dict[str, Any], facts: dict[str, str], source: Any,
             ctx: SendContext) -> dict[str, Any]:
    details = {
        "monitor": doc.get("monitor"), "kind": doc.get("kind"), "trigger": facts["trigger"],
        "instance": facts["instance"], "flow": facts["flow"], "step": facts["step"],
        "customer": facts["customer"], "error": facts["error"], "key": format_key(doc.get("key")),
        "count": doc.get("count"), "value": doc.get("value"),
        "threshold": doc.get("threshold"), "labels": doc.get("labels"),
    }
    return {
        "summary": ctx.message[:1024] or doc["monitor"],
        "source": str(source)[:255],
        "severity": SEVERITIES.get(str(doc.get("severity")), "error"),
        "timestamp": doc.get("fired_at"),
        "component": facts["flow"],
        "class": facts["trigger"],
        "custom_details": {k: v for k, v in details.items() if v not in (None, "")},
    }


@channel("pagerduty")
def send_pagerduty(request: DeliveryRequest, config: PagerDutyChannel, ctx: SendContext) -> httpx.Response:
    routing_key = ctx.destination(config.routing_key, where="routing_key")
    url = ctx.destination(config.url, where="url", url=True)
    body = event_body(request, routing_key, ctx)
    return ctx.runtime.rules_http.post(
        url, content=ctx.json_body(body, where="body").encode(), timeout=config.timeout,
        headers={"Content-Type": "application/json"},
    )
