"""Slack incoming webhook: `{"text": …, "blocks": […]}` POSTed to the channel's URL.

`text` is the channel's `text` template, else the monitor's rendered `message`;
`blocks` (optional) is rendered leaf by leaf like a webhook payload.
"""

from __future__ import annotations

from typing import Any

import httpx

from delivery.channels import channel
from delivery.channels.webhook import json_body
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from dsl.ruleset import SlackChannel


@channel("slack", config=SlackChannel)
def send_slack(request: DeliveryRequest, config: SlackChannel, ctx: SendContext) -> httpx.Response:
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
