"""Service configuration: the `TOCSIN_*` environment variables (and a `.env` file).

    config = Config()                         # from the environment and ./.env
    config = Config(mongodb_uri="mongodb://…", api_keys="k1:admin")   # in tests

Every setting is documented in docs/configuration.md. Secrets (`TOCSIN_SECRET_*`, the
SMTP URL, API keys) are read here but never logged or returned by the API.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dsl.literals import DURATION_PATTERN
from dsl.literals import parse_duration as duration_seconds
from service.logs import parse_format, parse_level

if TYPE_CHECKING:
    from engine.replay import ReplayLimits

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
SCOPES = ("ingest", "admin")

MAX_DURATION_SECONDS = 100 * 366 * 86400.0  # a century: beyond it a datetime sum may overflow
_DURATION = re.compile(DURATION_PATTERN).fullmatch


def parse_duration(text: str) -> timedelta:
    """`30d`, `1h30m`, `250ms` -> timedelta; ValueError otherwise.

    The language's duration syntax and parser (`dsl.literals`), so settings, query values,
    silences and rule files take the same text; settings and the API allow a century
    where rule files allow ten years."""
    text = text.strip()
    if not _DURATION(text):
        raise ValueError(f"not a duration: {text[:40]!r} (use e.g. 30d, 12h, 1h30m, 250ms)")
    seconds = duration_seconds(text)
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration too long: {text[:40]!r} (at most 100 years)")
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class ApiKey:
    key: str
    scope: str

    def __repr__(self) -> str:  # keys never end up in logs, even through repr()
        return f"ApiKey(scope={self.scope!r})"


def parse_api_keys(text: str | None) -> tuple[ApiKey, ...]:
    """`key1:admin,key2:ingest` -> keys; ValueError on a malformed pair or scope."""
    if not text or not text.strip():
        return ()
    keys = []
    for pair in text.split(","):
        key, sep, scope = pair.strip().rpartition(":")
        if not sep or not key or scope not in SCOPES:
            raise ValueError("TOCSIN_API_KEYS must be key:scope pairs with scope ingest or admin")
        keys.append(ApiKey(key, scope))
    return tuple(keys)


class RetryOverride(BaseModel):
    """One channel kind's retry settings (`TOCSIN_DELIVERY_<KIND>_…`); unset ones follow the
    general `TOCSIN_DELIVERY_…` ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int | None = Field(default=None, ge=1)
    retry_base: float | None = Field(default=None, gt=0)
    max_age: float | None = Field(default=None, gt=0)


_KIND_RETRY = re.compile(r"TOCSIN_DELIVERY_(?P<kind>[A-Z0-9]+)_(?P<what>MAX_ATTEMPTS|RETRY_BASE|MAX_AGE)").fullmatch


class _RetryByKind(PydanticBaseSettingsSource):
    """`TOCSIN_DELIVERY_<KIND>_MAX_ATTEMPTS` / `_RETRY_BASE` / `_MAX_AGE` from the environment:
    one name per channel kind, and kinds are registered by channel modules, so no declared
    field can list them. Empty values count as unset, as for every other setting."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, str]] = {}
        for name, value in os.environ.items():
            m = _KIND_RETRY(name.upper())
            if m and value.strip():
                found.setdefault(m["kind"].lower(), {})[m["what"].lower()] = value.strip()
        return {"delivery_retry_by_kind": found} if found else {}


class Config(BaseSettings):
    """Settings of one `tocsin serve` / `tocsin worker` process."""

    model_config = SettingsConfigDict(
        env_prefix="TOCSIN_", env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _RetryByKind(settings_cls), dotenv_settings, file_secret_settings

    host: str = "127.0.0.1"
    port: int = 8080
    mongodb_uri: str | None = None
    mongodb_database: str = "tocsin"
    data_dir: str = "./.tocsin/data"
    redis_url: str | None = None
    broker_url: str | None = None
    rules_dir: str = "./rules"
    api_keys: str | None = Field(default=None, repr=False)
    public_url: str | None = None
    retention: str = "30d"
    smtp_url: str | None = Field(default=None, repr=False)
    smtp_from: str = "tocsin@localhost"
    sms_url: str | None = None
    sms_from: str | None = None
    webhook_deny_private: bool = False
    # Delivery (docs/configuration.md § Delivery tuning; service/delivery_bridge.py
    # `delivery_settings` hands them to the workers and the reconciler).
    delivery_queue: str = "tocsin_delivery"
    delivery_lease_seconds: float = Field(default=30.0, gt=0)
    delivery_wake_grace_seconds: float = Field(default=10.0, gt=0)
    reconcile_seconds: float = Field(default=1.0, gt=0)
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_retry_base: float = Field(default=3.0, gt=0)
    delivery_max_age: float = Field(default=3600.0, gt=0)
    delivery_retry_by_kind: dict[str, RetryOverride] = Field(default_factory=dict)
    # Operational knobs (documented; the defaults suit everyone else).
    tick_seconds: float = 1.0
    lease_seconds: float = 10.0
    gap_grace_seconds: float = 5.0
    gap_recheck_seconds: float = 600.0
    evaluator_partitions: int = Field(default=1, ge=1, le=64)
    watch_rules: bool = True
    evaluator: bool = True
    event_alert_expiry: str = "24h"
    # Dry runs (`POST /v1/test`, `tocsin test`): the longest span a replay may cover and the
    # most alert events it may make (engine/replay.py `ReplayLimits`); beyond: 422 / exit 2.
    test_max_span: str = "31d"
    test_max_alert_events: int = Field(default=10_000, ge=1, le=10_000_000)
    # `POST /v1/backtest`: the most stored events one backtest reads (counted first; 422 beyond).
    backtest_max_events: int = Field(default=100_000, ge=1, le=10_000_000)
    # Logging (service/logs.py): debug|info|warning|error, and text or json lines.
    log_level: str = "info"
    log_format: str = "text"

    @field_validator("retention", "event_alert_expiry", "test_max_span")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        parse_level(v)
        return v.strip().lower()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        return parse_format(v)

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, v: str | None) -> str | None:
        parse_api_keys(v)
        return v

    @property
    def keys(self) -> tuple[ApiKey, ...]:
        return parse_api_keys(self.api_keys)

    @property
    def retention_delta(self) -> timedelta:
        return parse_duration(self.retention)

    @property
    def event_alert_expiry_delta(self) -> timedelta:
        return parse_duration(self.event_alert_expiry)

    @property
    def test_limits(self) -> ReplayLimits:
        from engine.replay import ReplayLimits

        span_ms = int(parse_duration(self.test_max_span).total_seconds() * 1000)
        return ReplayLimits(max_span_ms=span_ms, max_alert_events=self.test_max_alert_events)

    @property
    def base_url(self) -> str:
        """`TOCSIN_PUBLIC_URL`, else `http://HOST:PORT` (IPv6 hosts bracketed)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind_error(self) -> str | None:
        """Why this configuration must not listen, or None: no keys means loopback only."""
        if not self.keys and self.host not in LOOPBACK_HOSTS:
            return (
                f"refusing to listen on {self.host} without TOCSIN_API_KEYS; "
                "set keys or bind to 127.0.0.1"
            )
        return None
