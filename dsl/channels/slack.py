"""`slack "NAME" { url … }`: a Slack incoming webhook (delivery/channels/slack.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsl.channels import JSON_ARRAY, TEMPLATE, TIMEOUT, URL, ChannelKind, Setting


@dataclass(frozen=True, slots=True)
class SlackChannel:
    name: str
    url: str
    text: str | None = None
    blocks: Any = None
    timeout: float = 10.0
    kind: str = "slack"


KIND = ChannelKind("slack", SlackChannel, (
    Setting("url", URL, required=True),
    Setting("text", TEMPLATE),
    Setting("blocks", JSON_ARRAY),
    Setting("timeout", TIMEOUT),
))
