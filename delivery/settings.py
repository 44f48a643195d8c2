"""Delivery settings: what a worker and the reconciler need, as typed values.

The service reads the `TOCSIN_*` variables below once, in its `Config`
(service/config.py), and builds these with `service.delivery_bridge.delivery_settings`
(for `tocsin serve` and `tocsin worker` alike); delivery never reads the environment for
them (secrets are read separately: delivery/secrets.py).

| variable | default | meaning |
| --- | --- | --- |
| `TOCSIN_BROKER_URL` | unset | the broker: `redis://…` or `amqp://…` (RabbitMQ) |
| `TOCSIN_REDIS_URL` | unset | the Redis broker (when `TOCSIN_BROKER_URL` is unset) |
| `TOCSIN_DELIVERY_QUEUE` | `tocsin_delivery` | the broker queue of wake-ups |
| `TOCSIN_DELIVERY_LEASE_SECONDS` | `30` | how long a claim holds an entry (at least 3x the entry's channel timeout) |
| `TOCSIN_DELIVERY_WAKE_GRACE_SECONDS` | `10` | a wake-up not acted on within this is sent again by the reconciler |
| `TOCSIN_RECONCILE_SECONDS` | `1` | how often `tocsin serve` looks for due ledger entries |
| `TOCSIN_SMTP_URL` | unset | `smtp://user:pass@host:port[?starttls=1]` or `smtps://…` |
| `TOCSIN_SMTP_FROM` | `tocsin@localhost` | envelope and header sender |
| `TOCSIN_SMS_URL` | unset | Twilio-compatible `…/Messages.json` endpoint |
| `TOCSIN_SMS_FROM` | unset | the sending number (`From`) |
| `TOCSIN_SECRET_SMS_ACCOUNT_SID`, `TOCSIN_SECRET_SMS_AUTH_TOKEN` | unset | SMS basic auth |
| `TOCSIN_SECRET_<NAME>` | — | `{{ secrets.NAME }}` |
| `TOCSIN_SECRETS_FILE` | unset | JSON object or `NAME=value` lines; the environment wins |
| `TOCSIN_WEBHOOK_DENY_PRIVATE` | `0` | `1` also refuses loopback and private addresses |
| `TOCSIN_DELIVERY_MAX_ATTEMPTS` | `8` | attempts per delivery, first included |
| `TOCSIN_DELIVERY_RETRY_BASE` | `3` | seconds before the first retry (each next one x3) |
| `TOCSIN_DELIVERY_MAX_AGE` | `3600` | seconds after the first attempt when retrying stops |
| `TOCSIN_DELIVERY_<KIND>_MAX_ATTEMPTS` / `_RETRY_BASE` / `_MAX_AGE` | — | per channel kind |
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: retry k (1-based) waits about base * factor**(k-1).

    The defaults give 8 attempts within an hour (3 s, 9 s, 27 s, … 36 min) and a first
    retry within about 3 s. `max_delay` caps one wait, `max_age` the whole delivery.
    """

    max_attempts: int = 8
    base: float = 3.0
    factor: float = 3.0
    max_delay: float = 2400.0
    max_age: float = 3600.0


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Everything a worker and the reconciler are configured with (secrets are read separately)."""

    broker_url: str | None = None
    queue_name: str = "tocsin_delivery"
    lease_seconds: float = 30.0
    wake_grace_seconds: float = 10.0
    reconcile_seconds: float = 1.0
    smtp_url: str | None = None
    smtp_from: str = "tocsin@localhost"
    sms_url: str | None = None
    sms_from: str | None = None
    deny_private: bool = False
    retry: RetryPolicy = RetryPolicy()
    retry_by_kind: dict[str, RetryPolicy] = field(default_factory=dict)
    template_max_bytes: int = 64 * 1024
    template_max_seconds: float = 0.5
    http_max_connections: int = 200

    def retry_for(self, kind: str) -> RetryPolicy:
        return self.retry_by_kind.get(kind, self.retry)
