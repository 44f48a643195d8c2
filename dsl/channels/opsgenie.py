"""`opsgenie "NAME" { api_key … }`: Opsgenie Alert API v2 (delivery/channels/opsgenie.py)."""

from __future__ import annotations

from dataclasses import dataclass

from dsl.channels import TEMPLATE, TIMEOUT, URL, ChannelKind, Setting

OPSGENIE_API_URL = "https://api.opsgenie.com"


@dataclass(frozen=True, slots=True)
class OpsgenieChannel:
    name: str
    api_key: str
    api_url: str = OPSGENIE_API_URL  # https://api.eu.opsgenie.com for the EU instance
    timeout: float = 10.0
    kind: str = "opsgenie"


KIND = ChannelKind("opsgenie", OpsgenieChannel, (
    Setting("api_key", TEMPLATE, required=True, secret=True),
    Setting("api_url", URL),
    Setting("timeout", TIMEOUT),
))
