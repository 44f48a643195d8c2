"""PagerDuty Events API v2: `trigger` on fired/repeated/escalated, `resolve` on resolved.

`dedup_key` is the alert id, so every round of one alert lands on one PagerDuty
incident and the resolve closes it. The summary is the rendered `message` (PagerDuty
caps it at 1024 characters); `source` is the event's instance name, else its `source`,
else `tocsin`.
"""

from __future__ import annotations

from typing import Any

import httpx

from delivery.channels import channel
from delivery.channels.webhook import json_body
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from dsl.ruleset import PagerDutyChannel

SEVERITIES = {"info": "info", "warning": "warning", "error": "error", "critical": "critical"}


def event_body(request: DeliveryRequest, routing_key: str, ctx: SendContext) -> dict[str, Any]:
    doc = request.document
    if doc.get("kind") == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": doc["id"]}
    event = doc.get("event") or {}
    source = (event.get("instance") or {}).get("name") or event.get("source") or "tocsin"
    payload = {k: v for k, v in _payload(doc, event, source, ctx).items() if v is not None}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": doc["id"],
        "payload": payload,
        "links": [{"href": doc.get("url"), "text": "Tocsin alert"}],
    }


def _payload(doc: dict[str, Any], event: dict[str, Any], source: Any, ctx: SendContext) -> dict[str, Any]:
    return {
        "summary": ctx.message[:1024] or doc["monitor"],
        "source": str(source),
        "severity": SEVERITIES.get(str(doc.get("severity")), "error"),
        "timestamp": doc.get("fired_at"),
        "component": event.get("flow"),
        "class": event.get("type"),
        "custom_details": {
            "monitor": doc.get("monitor"), "kind": doc.get("kind"), "key": doc.get("key"),
            "count": doc.get("count"), "value": doc.get("value"),
            "threshold": doc.get("threshold"), "labels": doc.get("labels"),
        },
    }


@channel("pagerduty", config=PagerDutyChannel)
def send_pagerduty(request: DeliveryRequest, config: PagerDutyChannel, ctx: SendContext) -> httpx.Response:
    routing_key = ctx.render(config.routing_key, where="routing_key")
    url = ctx.render(config.url, where="url")
    body = event_body(request, routing_key, ctx)
    return ctx.runtime.rules_http.post(
        url, content=json_body(body).encode(), timeout=config.timeout,
        headers={"Content-Type": "application/json"},
    )
