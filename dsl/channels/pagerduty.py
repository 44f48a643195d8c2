"""`pagerduty "NAME" { routing_key … }`: PagerDuty Events API v2 (delivery/channels/pagerduty.py)."""

from __future__ import annotations

from dataclasses import dataclass

from dsl.channels import TEMPLATE, TIMEOUT, URL, ChannelKind, Setting

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


@dataclass(frozen=True, slots=True)
class PagerDutyChannel:
    name: str
    routing_key: str
    url: str = PAGERDUTY_EVENTS_URL
    timeout: float = 10.0
    kind: str = "pagerduty"


KIND = ChannelKind("pagerduty", PagerDutyChannel, (
    Setting("routing_key", TEMPLATE, required=True, secret=True),
    Setting("url", URL),
    Setting("timeout", TIMEOUT),
))
