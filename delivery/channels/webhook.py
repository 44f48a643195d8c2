"""Webhook: an HTTP request with a JSON body, optionally signed (Standard Webhooks).

Body: the channel's `payload` rendered leaf by leaf, else the standard alert document.
Headers: the channel's (rendered), `Content-Type: application/json`, `Idempotency-Key`
(the delivery id, the same on every retry) and, with `signing_secret`, `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
The secret is a Standard Webhooks secret (`whsec_` + base64); see `signing_key()`.

Nothing but the URL can stop a webhook (each fallback is a render warning):
- a URL that cannot render, or renders blank, fails the delivery (nowhere to send);
- a payload with a leaf that cannot render is replaced by the standard alert document;
- a header that cannot render is left out; a signing secret that cannot render sends
  the request unsigned;
- header values from data are made sendable by the transport (`transport.header_value`):
  control characters become spaces, non-ASCII goes out as UTF-8;
- numbers that JSON cannot hold (inf, nan) are sent as null.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from delivery.channels import channel
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from dsl.channels.webhook import WebhookChannel

BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


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
    """Compact JSON (non-finite numbers must already be gone: see `SendContext.json_body`)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


@channel("webhook")
def send_webhook(request: DeliveryRequest, config: WebhookChannel, ctx: SendContext) -> httpx.Response:
    url = ctx.destination(config.url, where="url", url=True)
    headers: dict[str, str] = {}
    for name, template in config.headers:
        value = ctx.render(template, where=f"header {name}", fallback=None,
                           instead="the header was left out")
        if value is not None:
            headers[name] = value
    if config.payload is not None:
        payload = ctx.render_json(config.payload, where="payload", fallback=ctx.document())
    else:
        payload = ctx.document()
    body = ctx.json_body(payload, where="payload")
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = request.id
    if config.signing_secret:
        secret = ctx.render(config.signing_secret, where="signing_secret", fallback="",
                            instead="the request was sent unsigned")
        if secret:
            headers.update(signature_headers(request.id, int(time.time()), body, secret))
    content = None if config.method in BODYLESS_METHODS else body.encode()
    return ctx.runtime.rules_http.request(
        config.method, url, content=content, headers=headers, timeout=config.timeout
    )
