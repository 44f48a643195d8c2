"""The channel registry: one module per channel, each registering its sender.

    @channel("webhook")                          # a rule-file kind: config from dsl.channels
    def send_webhook(request, config, ctx) -> httpx.Response | None: ...

    @channel("email", config=EmailConfig)        # an operator kind: config from settings
    def send_email(request, config, ctx) -> None: ...

A sender renders its templates through `ctx.render` / `ctx.render_json`, sends, and
returns the receiver's response (or None when the protocol has none, e.g. SMTP) or
raises; it never classifies or records: `delivery.pipeline` does that for every channel
alike. `config` is the channel's typed config: for the kinds declared in rule files it
is the kind's own config type from `dsl.channels` (its block settings are declared
there too), rebuilt from the request's JSON; channels the operator configures (email,
sms) build theirs with `config.from_request(request, settings)`.

Every module of this package is imported on first use: adding a channel kind is adding
its `dsl/channels/<kind>.py` (kind, config type, block settings), its module here (the
sender) and its test (docs/contributing.md § Adding a channel kind).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dsl.channels import channel_kind


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


def channel(kind: str, *, config: type | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `send` as the sender for destinations of `kind`; `config` defaults to the
    config type of the rule-file kind of that name (`dsl.channels`)."""
    if config is None:
        declared = channel_kind(kind)
        if declared is None:
            raise LookupError(f"no rule-file channel kind {kind!r} in dsl/channels/: pass config=")
        config = declared.config

    def register(send: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY[kind] = ChannelSpec(kind, config, send)
        return send

    return register


def get_channel(kind: str) -> ChannelSpec:
    """The registered channel for `kind` (the built-in modules are imported on first use)."""
    global _builtins_loaded
    if not _builtins_loaded:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
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
    """A rule-file channel (`dsl.channels` config) back from the request's JSON dict: unset
    values take the type's defaults, a repeatable setting's JSON list becomes the tuple
    the type holds (a header's pair a tuple too)."""
    data = channel_dict(request)
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in data.items() if k in names and v is not None}
    declared = channel_kind(request.kind)
    for setting in declared.settings if declared is not None else ():
        value = values.get(setting.config_field)
        if setting.repeatable and isinstance(value, list):
            values[setting.config_field] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if "timeout" in values:
        values["timeout"] = float(values["timeout"])
    values.setdefault("name", request.target)
    return cls(**values)


def registered_kinds() -> list[str]:
    """Every kind with a sender (rule-file and operator kinds), sorted."""
    get_channel("webhook")
    return sorted(_REGISTRY)
