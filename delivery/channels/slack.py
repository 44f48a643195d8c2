"""Slack incoming webhook: `{"text": …, "blocks": […]}` POSTed to the channel's URL.

`text` is the channel's `text` template, else the monitor's rendered `message`;
`blocks` (optional) is rendered leaf by leaf like a webhook payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from delivery.channels import channel, channel_dict
from delivery.channels.webhook import json_body
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from delivery.settings import DeliverySettings


@dataclass(frozen=True, slots=True)
class SlackConfig:
    name: str
    url: str
    text: str | None = None
    blocks: Any = None
    timeout: float = 10.0

    @classmethod
    def from_request(cls, request: DeliveryRequest, settings: DeliverySettings) -> SlackConfig:
        c = channel_dict(request)
        return cls(
            name=c.get("name", request.target),
            url=c["url"],
            text=c.get("text"),
            blocks=c.get("blocks"),
            timeout=float(c.get("timeout") or 10.0),
        )


@channel("slack", config=SlackConfig)
def send_slack(request: DeliveryRequest, config: SlackConfig, ctx: SendContext) -> httpx.Response:
    url = ctx.render(config.url, where="url")
    body: dict[str, Any] = {
        "text": ctx.render(config.text, where="text") if config.text else ctx.message
    }
    if config.blocks is not None:
        body["blocks"] = ctx.render_json(config.blocks, where="blocks")
    return ctx.runtime.rules_http.post(
        url, content=json_body(body).encode(), timeout=config.timeout,
        headers={"Content-Type": "application/json"},
    )
