"""What a delivery would put on the wire, captured without a network.

`Capture` is a runtime whose HTTP clients answer from an httpx `MockTransport` and keep
every request; `send(request)` runs one real attempt (`delivery.pipeline.attempt`) and
returns the outcome with what was sent. E-mail is built with the channel's own
`build_message` (no SMTP server needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
import httpx

from delivery.channels.email import EmailConfig, build_message
from delivery.ledger import Claim, Outcome
from delivery.pipeline import attempt
from delivery.request import DeliveryRequest
from delivery.runtime import USER_AGENT, SendContext, WorkerResources
from delivery.transport import LiteClient
from tests.delivery.support import make_runtime


@dataclass
class Capture:
    runtime: WorkerResources
    sent: list[httpx.Request] = field(default_factory=list)

    @classmethod
    def make(cls, secrets: dict[str, str] | None = None) -> Capture:
        runtime = make_runtime(secrets, smtp_url="smtp://127.0.0.1:2525", smtp_from="alerts@tocsin.test",
                               sms_url="http://sms.test/Messages.json", sms_from="+15550000")
        capture = cls(runtime)

        def answer(request: httpx.Request) -> httpx.Response:
            request.read()
            capture.sent.append(request)
            return httpx.Response(202, json={"status": "success"})

        for deny_private in (False, True):
            runtime._clients[deny_private] = LiteClient(httpx.MockTransport(answer), user_agent=USER_AGENT)
        return capture

    def send(self, request: DeliveryRequest) -> tuple[Outcome, httpx.Request | None]:
        """One attempt of `request`; the HTTP request it made, if any."""
        before = len(self.sent)
        now = datetime.now(timezone.utc)
        claim = Claim(request, "test", 1, None, now)
        outcome = attempt(claim, self.runtime, now=now)
        return outcome, (self.sent[before] if len(self.sent) > before else None)

    def email(self, request: DeliveryRequest) -> tuple[EmailMessage, list[str]]:
        """The e-mail message and the render warnings, as the e-mail channel builds it."""
        ctx = SendContext(request, self.runtime)
        config = EmailConfig.from_request(request, self.runtime.settings)
        return build_message(request, config, ctx), ctx.render_warnings


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()

