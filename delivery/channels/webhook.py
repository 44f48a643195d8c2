"""Webhook: an HTTP request with a JSON body, optionally signed (Standard Webhooks).

Body: the channel's `payload` rendered leaf by leaf, else the standard alert document.
Headers: the channel's (rendered), `Content-Type: application/json`, `Idempotency-Key`
(the delivery id, the same on every retry) and, with `signing_secret`, `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
The secret is a Standard Webhooks secret (`whsec_` + base64); see `signing_key()`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from delivery.channels import channel, channel_dict
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from delivery.settings import DeliverySettings

BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    name: str
    url: str
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    signing_secret: str | None = None
    payload: Any = None

    @classmethod
    def from_request(cls, request: DeliveryRequest, settings: DeliverySettings) -> WebhookConfig:
        c = channel_dict(request)
        return cls(
            name=c.get("name", request.target),
            url=c["url"],
            method=str(c.get("method") or "POST").upper(),
            headers=tuple((str(k), str(v)) for k, v in c.get("headers") or ()),
            timeout=float(c.get("timeout") or 10.0),
            signing_secret=c.get("signing_secret"),
            payload=c.get("payload"),
        )


def signing_key(secret: str) -> bytes:
    """The HMAC key: base64 after an optional `whsec_` prefix (as Standard Webhooks
    libraries read it); a secret that is not base64 is used as its UTF-8 bytes."""
    text = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(text + "==")
    except (binascii.Error, ValueError):
        key = b""
    return key or secret.encode()


def signature_headers(msg_id: str, timestamp: int, body: str, secret: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one message."""
    digest = hmac.new(signing_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest.digest()).decode(),
    }


def json_body(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


@channel("webhook", config=WebhookConfig)
def send_webhook(request: DeliveryRequest, config: WebhookConfig, ctx: SendContext) -> httpx.Response:
    url = ctx.render(config.url, where="url")
    headers = {k: ctx.render(v, where=f"header {k}") for k, v in config.headers}
    if config.payload is not None:
        body = json_body(ctx.render_json(config.payload, where="payload"))
    else:
        body = json_body(ctx.document())
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = request.id
    if config.signing_secret:
        secret = ctx.render(config.signing_secret, where="signing_secret")
        headers.update(signature_headers(request.id, int(time.time()), body, secret))
    content = None if config.method in BODYLESS_METHODS else body.encode()
    return ctx.runtime.rules_http.request(
        config.method, url, content=content, headers=headers, timeout=config.timeout
    )
