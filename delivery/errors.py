"""Why a delivery attempt did not succeed, as two kinds the retry policy understands.

    DeliveryError
    ├── TransientDeliveryError        retry later: timeout, connection error, 408, 429, 5xx,
    │                                 SMTP 4xx; carries `retry_after` (seconds) when known
    └── PermanentDeliveryError        never retry: other 4xx, redirects, bad configuration
        ├── TemplateError             a template failed: missing variable, sandbox refusal,
        │   └── SecretMissing         output or time over the cap, `{{ secrets.X }}` unset
        ├── AddressRefused            the SSRF guard refused the destination address
        └── NotConfigured             e-mail/SMS without TOCSIN_SMTP_URL / TOCSIN_SMS_URL

Channels raise these (or let httpx/smtplib errors through); `delivery.classify` turns
every outcome into one `Verdict`. The `deliver` actor declares `PermanentDeliveryError`
in Dramatiq's `throws=` so a final failure is dead-lettered without a stack trace.
Messages never contain secret values: they are redacted before anything is recorded
(`Secrets.redact`: values and their echoed forms), and a `TemplateError` never quotes a
value the template computed, so no slice of a secret either (`delivery.sandbox`).
"""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class: `status` is the receiver's status code when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientDeliveryError(DeliveryError):
    """Worth retrying; `retry_after` is the receiver's requested delay in seconds."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help; the delivery fails at once."""


class TemplateError(PermanentDeliveryError):
    """A template could not be rendered (the message says which and why)."""


class SecretMissing(TemplateError):
    """`{{ secrets.NAME }}` has no value in the environment or the secrets file."""


class AddressRefused(PermanentDeliveryError):
    """The destination resolves to an address the SSRF guard refuses."""


class NotConfigured(PermanentDeliveryError):
    """The channel needs operator settings that are missing (SMTP, SMS)."""
