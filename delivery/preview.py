"""Preview: an alert event's notifications exactly as a worker would send them, sent nowhere.

    preview = Preview(ruleset, public_url="https://tocsin.example", settings=delivery_settings(config),
                      secrets=Secrets.from_env(), max_seconds=5.0)
    preview.notifications(alert_event)   # one dict per destination, as `tocsin test --render` shows

Why it is exact: each notification runs the worker's own path, `build_requests` →
channel config → `SendContext` (templates, fallbacks, render warnings, default texts) →
the channel's sender → `LiteClient` (header values made sendable, Basic auth) → the
transport. Only the transport differs: `CapturingTransport` keeps the `httpx.Request`
and answers 200, so there is no DNS lookup, no SSRF check and no connection. E-mail has
no transport seam, so its channel's `build_message` is called and SMTP never is.

Each notification: `channel`, `target`, `method`, `url`, `headers` (every header as it
goes out, `Host` and `Content-Length` included), `subject` (e-mail), `body` (parsed
when JSON or a form, else text), `render_warnings`, and `error`: why the delivery
would fail (nowhere to send, e-mail/SMS not configured), else null.

Secrets never enter a preview. Which secrets are set is read from the environment as a
worker reads it (`Secrets.from_env`), but every `{{ secrets.NAME }}` renders as the
stand-in `STAND_IN`, and a last pass masks it and every form derived from it (URL-encoded,
JSON-escaped, base64 inside `Basic …`: `Secrets.redact`) as `****`; URL passwords and
echoed credentials are masked the same way. So no filter (`reverse`, a slice) can
carry a secret out through the preview, and the response is no signing oracle: the
Standard Webhooks signature, made with a stand-in key, is masked too. A secret that is
not set renders the same, plus a render warning.

Rendering keeps the sandbox's caps (`delivery.limits`: size, loop and per-template time)
and adds one deadline over the whole preview (`max_seconds`): past it, a template falls
back at once (as one that ran out of time would) and a notification not yet begun is
not previewed (its `error` says so). Callers on an event loop run a preview in a
thread (`asyncio.to_thread`), as delivery renders in worker threads. A `Preview` is used
by one thread at a time.
"""

from __future__ import annotations

import dataclasses
import email.message
import json
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import httpx

from delivery.channels import ChannelSpec, build_config, get_channel
from delivery.channels.email import EmailConfig, build_message
from delivery.classify import classify
from delivery.errors import NotConfigured, TemplateError
from delivery.request import DeliveryRequest, build_requests
from delivery.runtime import USER_AGENT, SendContext, WorkerResources
from delivery.secrets import REDACTED, Secrets
from delivery.settings import DeliverySettings
from delivery.templates import Renderer
from delivery.transport import LiteClient
from dsl.ruleset import RuleSet
from engine.model import AlertEvent

MASK = "****"
STAND_IN = "*" * 8  # what `{{ secrets.NAME }}` renders as: looks masked whatever a filter does to it
# Made with the signing secret (a stand-in here): a real one would make the preview a signing oracle.
SIGNED_HEADERS = frozenset({"webhook-signature"})
# Where e-mail/SMS settings are missing, the text is still shown (with `error`) using these.
_STAND_IN_SMTP_URL = "smtp://smtp.invalid"
_STAND_IN_SMS_URL = "https://sms.invalid/Messages.json"


class PreviewSecrets(Secrets):
    """Every secret is `STAND_IN`; which names were asked for but are not set is noted."""

    def __init__(self, available: Secrets) -> None:
        super().__init__({}, extra_sensitive=[STAND_IN])
        self._available = available
        self._unset: list[str] = []

    def get(self, name: str) -> str:
        # `_name`: the sandbox refuses it (after the lookup), no secret to warn about.
        if name not in self._available and name not in self._unset and not name.startswith("_"):
            self._unset.append(name)
        return STAND_IN

    def take_unset(self) -> list[str]:
        """The names asked for and not set since the last call."""
        names, self._unset = self._unset, []
        return names

    def mask(self, text: str) -> str:
        """`text` with the stand-in, its derived forms and URL passwords as `****`."""
        return (self.redact(text) or text).replace(REDACTED, MASK)


class CapturingTransport(httpx.BaseTransport):
    """Keeps each request instead of sending it and answers 200: nothing leaves the process."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(200, request=request)

    def take(self) -> httpx.Request | None:
        """The request captured last (None when the sender made none); forgets them all."""
        last = self.requests[-1] if self.requests else None
        self.requests.clear()
        return last


class DeadlineRenderer(Renderer):
    """The worker's renderer with one more bound: a deadline over every template of a preview."""

    def __init__(self, *, max_bytes: int, max_seconds: float, deadline: float | None) -> None:
        super().__init__(max_bytes=max_bytes, max_seconds=max_seconds)
        self._per_template = max_seconds
        self._deadline = deadline

    def out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def render(self, source: str, context: dict[str, Any], *, where: str, url: bool = False) -> str:
        # Plain text (no `{`, no `$`) is returned as is by `Renderer.render`: it costs nothing.
        if self._deadline is not None and ("{" in source or "$" in source):
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TemplateError(f"{where}: not rendered: the preview's time budget ran out")
            self.max_seconds = min(self._per_template, left)
        return super().render(source, context, where=where, url=url)


def _no_resolver(host: str, port: int) -> list[str]:
    raise AssertionError("a preview never resolves a host")  # unreachable: nothing connects


class PreviewResources(WorkerResources):
    """The worker's `WorkerResources` whose HTTP clients capture instead of connecting."""

    def __init__(self, settings: DeliverySettings, secrets: PreviewSecrets, *,
                 deadline: float | None) -> None:
        super().__init__(settings, secrets, resolve=_no_resolver)
        self.renderer = DeadlineRenderer(max_bytes=settings.template_max_bytes,
                                         max_seconds=settings.template_max_seconds, deadline=deadline)
        self.transport = CapturingTransport()
        self._capture = LiteClient(self.transport, user_agent=USER_AGENT)

    @property
    def rules_http(self) -> LiteClient:
        return self._capture

    @property
    def operator_http(self) -> LiteClient:
        return self._capture


class Preview:
    """The notifications of alert events of one rule set, rendered and captured."""

    def __init__(self, ruleset: RuleSet, *, public_url: str, settings: DeliverySettings,
                 secrets: Secrets, max_seconds: float | None = None) -> None:
        self.ruleset = ruleset
        self.public_url = public_url
        self.secrets = PreviewSecrets(secrets)
        self.max_seconds = max_seconds
        deadline = time.monotonic() + max_seconds if max_seconds is not None else None
        self.runtime = PreviewResources(settings, self.secrets, deadline=deadline)

    def notifications(self, alert_event: AlertEvent) -> list[dict[str, Any]]:
        """One notification per destination of `alert_event` (none when it is muted)."""
        requests = build_requests(alert_event, self.ruleset, public_url=self.public_url)
        return [self._one(request) for request in requests]

    __call__ = notifications

    def _one(self, request: DeliveryRequest) -> dict[str, Any]:
        shown: dict[str, Any] = {"method": None, "url": None, "headers": {}, "subject": None, "body": None}
        warnings: list[str] = []
        if self.runtime.renderer.out_of_time():
            error = f"not previewed: the preview's time budget ({self.max_seconds:g} s) ran out"
            return {"channel": request.kind, "target": request.target, **shown, "render_warnings": [],
                    "error": error}
        spec = get_channel(request.kind)
        config, error, stand_in = self._config(spec, request)
        if config is not None:
            try:
                shown = self._capture(spec, request, config, warnings)
            except Exception as exc:  # what the worker would record: the same classify()
                error = classify(exc).error
            if stand_in:
                shown["url"] = None  # a stand-in server: nowhere this environment would send
        for name in self.secrets.take_unset():
            _warn(warnings, f"secret {name} is not set (TOCSIN_SECRET_{name}); shown as {MASK}, "
                            "but a delivery sent from this environment would not have it")
        notification = {"channel": request.kind, "target": request.target, **shown,
                        "render_warnings": warnings, "error": error}
        return _masked(notification, self.secrets)

    def _config(self, spec: ChannelSpec, request: DeliveryRequest) -> tuple[Any, str | None, bool]:
        """(the channel's config or None, why it would not send, whether a stand-in server
        is used): e-mail and SMS without usable settings are shown with a stand-in server."""
        try:
            return build_config(spec, request, self.runtime.settings), None, False
        except NotConfigured as exc:
            error = str(exc)
        except Exception as exc:  # e.g. a malformed port in TOCSIN_SMTP_URL, as the worker records it
            return None, classify(exc).error, False
        stand_in = dataclasses.replace(self.runtime.settings, smtp_url=_STAND_IN_SMTP_URL, sms_url=_STAND_IN_SMS_URL)
        try:
            return build_config(spec, request, stand_in), error, True
        except NotConfigured:  # not a setting a stand-in replaces
            return None, error, False

    def _capture(self, spec: ChannelSpec, request: DeliveryRequest, config: Any,
                 warnings: list[str]) -> dict[str, Any]:
        """Render and "send" through the channel, the request kept instead of sent."""
        ctx = SendContext(request, self.runtime, warnings)
        if isinstance(config, EmailConfig):
            return _email(build_message(request, config, ctx), config)
        spec.send(request, config, ctx)
        captured = self.runtime.transport.take()
        if captured is None:  # a sender that sends nothing: nothing to show
            return {"method": None, "url": None, "headers": {}, "subject": None, "body": None}
        return _http(captured)


def preview_factory(*, public_url: str, settings: DeliverySettings, env: Mapping[str, str] | None = None,
                    max_seconds: float | None = None) -> Callable[[RuleSet], Preview]:
    """`Preview`s with `settings` and the secrets (set or not) of `env` (default: this
    process's environment, as a worker reads them); raises OSError or ValueError for an
    unreadable `TOCSIN_SECRETS_FILE`."""
    return partial(Preview, public_url=public_url, settings=settings,
                   secrets=Secrets.from_env(env), max_seconds=max_seconds)


def _warn(warnings: list[str], text: str) -> None:
    if text not in warnings:
        warnings.append(text)


def _http(request: httpx.Request) -> dict[str, Any]:
    headers = {name.decode("latin-1"): value.decode("utf-8", "replace") for name, value in request.headers.raw}
    for name in headers:
        if name.lower() in SIGNED_HEADERS:
            headers[name] = MASK
    text = request.content.decode("utf-8", "replace") if request.content else None
    return {"method": request.method, "url": str(request.url), "headers": headers, "subject": None,
            "body": _parsed(text, request.headers.get("content-type", ""))}


def _parsed(text: str | None, content_type: str) -> Any:
    """JSON as its value and a form as an object (readable); other bodies as text."""
    media = content_type.split(";")[0].strip().lower()
    if text is None:
        return None
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    if media == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def _email(message: email.message.EmailMessage, config: EmailConfig) -> dict[str, Any]:
    plain = message.get_body(("plain",))
    return {"method": None, "url": f"smtp://{config.host}:{config.port}",
            "headers": {name: str(value) for name, value in message.items()},
            "subject": str(message["Subject"]), "body": plain.get_content() if plain is not None else None}


def _masked(value: Any, secrets: PreviewSecrets) -> Any:
    """Every string (keys too) of `value` through `secrets.mask`."""
    if isinstance(value, str):
        return secrets.mask(value)
    if isinstance(value, dict):
        return {_masked(k, secrets) if isinstance(k, str) else k: _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secrets) for v in value]
    return value

