"""SMS through a Twilio-compatible REST API (`TOCSIN_SMS_URL`, the Messages endpoint).

A form POST of `To`, `From` (`TOCSIN_SMS_FROM`) and `Body` (the rendered `message`,
at most 1600 characters) with HTTP basic auth from the secrets `SMS_ACCOUNT_SID` and
`SMS_AUTH_TOKEN` (`TOCSIN_SECRET_SMS_ACCOUNT_SID`, `TOCSIN_SECRET_SMS_AUTH_TOKEN`).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from delivery.channels import channel
from delivery.errors import NotConfigured
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from delivery.settings import DeliverySettings

MAX_BODY = 1600


@dataclass(frozen=True, slots=True)
class SmsConfig:
    url: str
    sender: str | None
    timeout: float = 10.0

    @classmethod
    def from_request(cls, request: DeliveryRequest, settings: DeliverySettings) -> SmsConfig:
        if not settings.sms_url:
            raise NotConfigured("SMS needs TOCSIN_SMS_URL")
        return cls(url=settings.sms_url, sender=settings.sms_from)


@channel("sms", config=SmsConfig)
def send_sms(request: DeliveryRequest, config: SmsConfig, ctx: SendContext) -> httpx.Response:
    secrets = ctx.runtime.secrets
    sid, token = secrets.get("SMS_ACCOUNT_SID"), secrets.get("SMS_AUTH_TOKEN")
    if not sid or not token:
        raise NotConfigured("SMS needs TOCSIN_SECRET_SMS_ACCOUNT_SID and TOCSIN_SECRET_SMS_AUTH_TOKEN")
    form = {"To": request.target, "Body": ctx.message[:MAX_BODY]}
    if config.sender:
        form["From"] = config.sender
    return ctx.runtime.operator_http.post(
        config.url, data=form, auth=(sid, token), timeout=config.timeout,
        headers={"Idempotency-Key": request.id},
    )
