"""Channel kinds of the rule language: one module per kind in this package, found by scanning it.

    # dsl/channels/pagerduty.py
    @dataclass(frozen=True, slots=True)
    class PagerDutyChannel:           # the typed config: the rule set holds it, the sender gets it
        name: str
        routing_key: str
        url: str = "https://events.pagerduty.com/v2/enqueue"
        timeout: float = 10.0
        kind: str = "pagerduty"

    KIND = ChannelKind("pagerduty", PagerDutyChannel, (
        Setting("routing_key", TEMPLATE, required=True, secret=True),
        Setting("url", URL),
        Setting("timeout", TIMEOUT),
    ))

A module that exports `KIND` declares a block kind (`opsgenie "NAME" { … }`), a notify
target and `via` kind, a group member kind, and the settings its block accepts: each
with a value shape (`SHAPES`; `dsl.check_blocks` validates each shape, `build` turns it
into the config's field), whether it is required or repeatable, and whether its value is
a secret (a credential: the checker warns, W507, unless it reads `{{ secrets.NAME }}`,
whose values never enter a request, a record or a preview). Templated shapes are
rendered at send time and checked as templates (E308) with the monitors that use them.

The sender is the other half of a kind and lives in `delivery/channels/<kind>.py`: the
rule language may import nothing of ours (design.md), so the sending code, which needs
HTTP and the delivery runtime, cannot live here; delivery reads this registry for the
config type. Nothing lists the kinds by hand: `dsl.catalog`, the checker, the loader,
engine routing and delivery all read `kinds()`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # dsl.ast reads the catalog, which reads this registry
    from dsl import ast as A

# Value shapes of a channel setting (what one item of the block holds):
URL = "url"  # one string, an absolute http(s) URL (templated)
TEMPLATE = "template"  # one string (templated)
TIMEOUT = "timeout"  # one duration, more than 0 s and at most catalog.MAX_TIMEOUT_SECONDS
METHOD = "method"  # one HTTP method, a word or a string
HEADER = "header"  # two strings, a header name and its value (the value templated)
JSON = "json"  # one JSON object or array (every string leaf templated)
JSON_ARRAY = "json_array"  # one JSON array (every string leaf templated)
SHAPES = (URL, TEMPLATE, TIMEOUT, METHOD, HEADER, JSON, JSON_ARRAY)
TEMPLATED_SHAPES = frozenset({URL, TEMPLATE, HEADER, JSON, JSON_ARRAY})


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting a channel block accepts: `key VALUE` in the block."""

    key: str
    shape: str
    required: bool = False
    repeatable: bool = False  # may be written more than once (a tuple in the config)
    secret: bool = False  # a credential: one template string, W507 unless it reads `secrets`
    field: str = ""  # the config field it fills (default: `key`)

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"setting {self.key!r}: unknown shape {self.shape!r} (one of {', '.join(SHAPES)})")
        if self.secret and self.shape != TEMPLATE:
            raise ValueError(f"setting {self.key!r}: a secret is one template string (shape {TEMPLATE!r})")

    @property
    def templated(self) -> bool:
        return self.shape in TEMPLATED_SHAPES

    @property
    def config_field(self) -> str:
        return self.field or self.key


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """A channel kind: its block keyword, typed config and block settings.

    `config` is a frozen dataclass with `name`, `kind` (defaulting to the kind) and one
    field per setting; unset settings take the dataclass's defaults."""

    name: str
    config: type
    settings: tuple[Setting, ...]

    def setting(self, key: str) -> Setting | None:
        return next((s for s in self.settings if s.key == key), None)

    def build(self, block: A.Block) -> Any:
        """The block (checked, without errors) as this kind's config value."""
        values: dict[str, Any] = {}
        for s in self.settings:
            items = block.items_of(s.key)
            if not items:
                continue
            converted = [_value(s.shape, item) for item in items]
            values[s.config_field] = tuple(converted) if s.repeatable else converted[0]
        return self.config(name=block.name.value, **values)


def _value(shape: str, item: A.BlockItem) -> Any:
    first = item.values[0]
    if shape == TIMEOUT:
        return float(first.seconds)
    if shape == METHOD:
        return first.value.upper()
    if shape == HEADER:
        return (first.value, item.values[1].value)
    if shape in (JSON, JSON_ARRAY):
        from dsl.formatter import to_json_value

        return to_json_value(first)
    return first.value


@cache
def kinds() -> Mapping[str, ChannelKind]:
    """Every channel kind, by name: the `KIND` of each module of this package, sorted."""
    found: dict[str, ChannelKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        kind = getattr(importlib.import_module(f"{__name__}.{info.name}"), "KIND", None)
        if isinstance(kind, ChannelKind):
            if kind.name in found:
                raise ValueError(f"channel kind {kind.name!r} is declared twice ({info.name})")
            found[kind.name] = kind
    return MappingProxyType(found)


def channel_kind(name: str) -> ChannelKind | None:
    return kinds().get(name)


class ChannelConfig(Protocol):
    """What every kind's config has (the rule set's `channels` values)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def timeout(self) -> float: ...
