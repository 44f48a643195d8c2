"""E-mail over SMTP (`TOCSIN_SMTP_URL`): one message per recipient, plain text + HTML.

`smtp://[user:pass@]host[:port]` (port 25; add `?starttls=1` to upgrade) or
`smtps://…` (implicit TLS, port 465). Sender: `TOCSIN_SMTP_FROM`. The subject is the
first line of the rendered `message` with the severity (or `resolved`) in front unless
the line already starts with it (the standard text does); the body is the message
followed by the alert's details (`delivery.texts.detail_rows`) and link. `Message-ID` is derived
from the delivery id so a retried message is recognisably the same one.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from delivery.channels import channel
from delivery.errors import NotConfigured
from delivery.request import DeliveryRequest
from delivery.runtime import SendContext
from delivery.settings import DeliverySettings
from delivery.texts import detail_rows, one_line, tag


@dataclass(frozen=True, slots=True)
class EmailConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    sender: str
    timeout: float = 10.0

    @classmethod
    def from_request(cls, request: DeliveryRequest, settings: DeliverySettings) -> EmailConfig:
        if not settings.smtp_url:
            raise NotConfigured("e-mail needs TOCSIN_SMTP_URL")
        url = urlsplit(settings.smtp_url)
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise NotConfigured("TOCSIN_SMTP_URL must be smtp://host:port or smtps://host:port")
        query = parse_qs(url.query)
        return cls(
            host=url.hostname,
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            implicit_tls=url.scheme == "smtps",
            starttls=query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
            sender=settings.smtp_from,
        )


def build_message(request: DeliveryRequest, config: EmailConfig, ctx: SendContext) -> EmailMessage:
    """The MIME message (multipart/alternative: text/plain then text/html)."""
    doc = request.document
    lines = [line for line in ctx.message.splitlines() if line.strip()]
    first_line = one_line(lines[0] if lines else str(doc.get("monitor") or "alert"), 200)
    label = tag(doc)
    msg = EmailMessage()
    msg["Subject"] = first_line if first_line.startswith(label) else f"{label} {first_line}"
    msg["From"] = config.sender
    msg["To"] = request.target
    msg["Message-ID"] = f"<{request.id}.{request.alert_event_id[:40]}@tocsin>".replace(" ", "")
    msg["X-Tocsin-Delivery"] = request.id
    details = detail_rows(request)
    msg.set_content(ctx.message + "\n\n" + "\n".join(f"{k}: {v}" for k, v in details) + "\n")
    rows = "".join(
        f"<tr><th align=left>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in details
    )
    msg.add_alternative(
        f"<html><body><p>{html.escape(ctx.message).replace(chr(10), '<br>')}</p>"
        f"<table>{rows}</table></body></html>",
        subtype="html",
    )
    return msg


@channel("email", config=EmailConfig)
def send_email(request: DeliveryRequest, config: EmailConfig, ctx: SendContext) -> None:
    message = build_message(request, config, ctx)
    if config.implicit_tls:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password or "")
        smtp.send_message(message, from_addr=config.sender, to_addrs=[request.target])
