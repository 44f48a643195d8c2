"""`webhook "NAME" { url … }`: an HTTP request with a JSON body (delivery/channels/webhook.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsl.channels import HEADER, JSON, METHOD, TEMPLATE, TIMEOUT, URL, ChannelKind, Setting


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    name: str
    url: str
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    signing_secret: str | None = None
    payload: Any = None  # plain JSON (dict/list/str/...) whose string leaves are templates
    kind: str = "webhook"


KIND = ChannelKind("webhook", WebhookChannel, (
    Setting("url", URL, required=True),
    Setting("method", METHOD),
    Setting("header", HEADER, repeatable=True, field="headers"),
    Setting("timeout", TIMEOUT),
    Setting("signing_secret", TEMPLATE, secret=True),
    Setting("payload", JSON),
))
