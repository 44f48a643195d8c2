"""The channel registry: one module per channel, each registering itself.

    @channel("webhook", config=WebhookConfig)
    def send_webhook(request, config, ctx) -> httpx.Response | None: ...

A sender renders its templates through `ctx.render` / `ctx.render_json`, sends, and
returns the receiver's response (or None when the protocol has none, e.g. SMTP) or
raises; it never classifies or records: `delivery.pipeline` does that for every channel
alike. `config` is the channel's typed config: for channels declared in rule files
(webhook, slack, pagerduty) it is the rule set's own value (`dsl.ruleset.WebhookChannel`,
…) rebuilt from the request's JSON; channels the operator configures (email, sms) build
theirs with `config.from_request(request, settings)`. Adding a channel is adding one
module here and its test.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

CHANNEL_MODULES = ("webhook", "slack", "pagerduty", "email", "sms")


class ChannelConfig(Protocol):
    @classmethod
    def from_request(cls, request: Any, settings: Any) -> ChannelConfig: ...


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    kind: str
    config: type
    send: Callable[..., Any]


_REGISTRY: dict[str, ChannelSpec] = {}
_builtins_loaded = False


def channel(kind: str, *, config: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `send` as the sender for destinations of `kind`."""

    def register(send: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY[kind] = ChannelSpec(kind, config, send)
        return send

    return register


def get_channel(kind: str) -> ChannelSpec:
    """The registered channel for `kind` (the built-in modules are imported on first use)."""
    global _builtins_loaded
    if not _builtins_loaded:
        for name in CHANNEL_MODULES:
            importlib.import_module(f"delivery.channels.{name}")
        _builtins_loaded = True
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise LookupError(f"no delivery channel for kind {kind!r}") from None


def channel_dict(request: Any) -> dict[str, Any]:
    """The request's channel config; a channel missing from the rule set (removed by a
    reload after the alert event was stored) fails the delivery, recorded, at once."""
    from delivery.errors import NotConfigured

    if not request.channel:
        raise NotConfigured(f"no {request.kind} channel named {request.target!r} in the rules")
    return request.channel


def build_config(spec: ChannelSpec, request: Any, settings: Any) -> Any:
    """The sender's typed config for one request (see the module docstring)."""
    make = getattr(spec.config, "from_request", None)
    if make is not None:
        return make(request, settings)
    return rule_channel(spec.config, request)


def rule_channel(cls: type, request: Any) -> Any:
    """A rule-file channel (`dsl.ruleset` type) back from the request's JSON dict: unset
    values take the type's defaults, JSON lists become the tuples the type holds."""
    data = channel_dict(request)
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in data.items() if k in names and v is not None}
    if "headers" in values:
        values["headers"] = tuple((str(k), str(v)) for k, v in values["headers"])
    if "timeout" in values:
        values["timeout"] = float(values["timeout"])
    values.setdefault("name", request.target)
    return cls(**values)


def registered_kinds() -> list[str]:
    get_channel("webhook")
    return sorted(_REGISTRY)
