"""Slack incoming webhook: `{"text": …, "blocks": […]}` POSTed to the channel's URL.

`text` is the channel's `text` template, else the monitor's rendered `message`;
`blocks` (optional) is rendered leaf by leaf like a webhook payload. A `text` that cannot
render falls back to the message, `blocks` that cannot render are left out (the text
carries the notification); only a URL that cannot render fails the delivery.
"""

from __future__ import annotations

from typing import Any

import httpx

from delivery.channels import channel
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from dsl.channels.slack import SlackChannel


@channel("slack")
def send_slack(request: DeliveryRequest, config: SlackChannel, ctx: SendContext) -> httpx.Response:
    url = ctx.destination(config.url, where="url", url=True)
    text = ctx.render(config.text, where="text", fallback=ctx.message) if config.text else ""
    body: dict[str, Any] = {"text": text if text.strip() else ctx.message}
    if config.blocks is not None:
        blocks = ctx.render_json(config.blocks, where="blocks", fallback=None,
                                 instead="the blocks were left out")
        if blocks is not None:
            body["blocks"] = blocks
    return ctx.runtime.rules_http.post(
        url, content=ctx.json_body(body, where="body").encode(), timeout=config.timeout,
        headers={"Content-Type": "application/json"},
    )
