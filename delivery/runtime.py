"""What a worker process holds for every delivery, and what one delivery sees.

`WorkerResources` (one per process, built lazily after a fork): settings, secrets, the template
renderer and two pooled HTTP clients (`LiteClient`, httpx API) behind the SSRF guard: `rules_http` for URLs that
come from rule files (webhook, Slack, PagerDuty; `TOCSIN_WEBHOOK_DENY_PRIVATE` applies)
and `operator_http` for endpoints the operator configured (SMS; link-local and metadata
addresses are still refused). Neither follows redirects,
keeps cookies or reads proxy variables.

`SendContext` (one per delivery) renders that delivery's templates; the rendered
`message` is computed once and is also `alert.message` in every later template. A
template that cannot render never stops the delivery: `render(…, fallback=…)` returns
the fallback (the channel's standard text) and notes a render warning (`where: reason`,
secrets redacted) in `render_warnings`, which the pipeline records on the ledger entry.
Only the destination can fail a delivery: `destination(…)` renders a URL or routing
key and raises `TemplateError` when there is none to send to; `destination(…, url=True)`
percent-encodes the values printed into a URL (`delivery.url_template`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from delivery.context import build_context
from delivery.errors import TemplateError
from delivery.request import DeliveryRequest
from delivery.secrets import Secrets
from delivery.settings import DeliverySettings
from delivery.ssrf import AddressPolicy, Resolver, system_resolver
from delivery.templates import Renderer, clean_text, finite_json
from delivery.texts import default_message
from delivery.transport import LiteClient, guarded_transport

USER_AGENT = "tocsin-delivery/0.1"
MAX_WARNING = 300  # characters of one render warning
MAX_WARNINGS = 20  # render warnings kept per attempt


class WorkerResources:
    """Per-process delivery resources; thread-safe."""

    def __init__(
        self,
        settings: DeliverySettings | None = None,
        secrets: Secrets | None = None,
        *,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.settings = settings if settings is not None else DeliverySettings()
        self.secrets = secrets if secrets is not None else Secrets.from_env()
        self.renderer = Renderer(
            max_bytes=self.settings.template_max_bytes,
            max_seconds=self.settings.template_max_seconds,
        )
        self._resolve = resolve
        self._lock = threading.Lock()
        self._clients: dict[bool, LiteClient] = {}

    def _client(self, deny_private: bool) -> LiteClient:
        with self._lock:
            client = self._clients.get(deny_private)
            if client is None:
                transport = guarded_transport(
                    AddressPolicy(deny_private=deny_private),
                    max_connections=self.settings.http_max_connections,
                    resolve=self._resolve,
                )
                client = LiteClient(transport, user_agent=USER_AGENT)
                self._clients[deny_private] = client
            return client

    @property
    def rules_http(self) -> LiteClient:
        return self._client(self.settings.deny_private)

    @property
    def operator_http(self) -> LiteClient:
        return self._client(False)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


_NO_FALLBACK = object()


@dataclass
class SendContext:
    """One delivery's view: its request, template context and the process runtime."""

    request: DeliveryRequest
    runtime: WorkerResources
    render_warnings: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(init=False)
    message: str = field(init=False)

    def __post_init__(self) -> None:
        self.context = build_context(self.request, self.runtime.secrets)
        standard = clean_text(default_message(self.request))
        if self.request.message_template:
            self.message = self.render(self.request.message_template, where="message",
                                       fallback=standard)
            if not self.message.strip():
                self.warn("message: rendered empty; the standard text was sent")
                self.message = standard
        else:
            self.message = standard
        self.context["alert"]["message"] = self.message

    def warn(self, text: str) -> None:
        """Note a render warning: redacted, at most `MAX_WARNING` characters, each once,
        at most `MAX_WARNINGS` of them."""
        warning = self.runtime.secrets.redact(text) or text
        if len(warning) > MAX_WARNING:
            warning = warning[: MAX_WARNING - 1] + "…"
        if warning in self.render_warnings or len(self.render_warnings) > MAX_WARNINGS:
            return
        if len(self.render_warnings) == MAX_WARNINGS:
            warning = "… more render warnings left out"
        self.render_warnings.append(warning)

    def render(self, source: str, *, where: str, fallback: Any = _NO_FALLBACK,
               instead: str = "the standard text was sent") -> Any:
        """The rendered template; if it cannot render, `fallback` with the warning
        "<where>: <reason>; <instead>" (without a fallback the `TemplateError` propagates)."""
        return self._or_fallback(lambda: self.runtime.renderer.render(source, self.context, where=where),
                                 fallback, instead)

    def render_json(self, value: Any, *, where: str, fallback: Any = _NO_FALLBACK,
                    instead: str = "the standard alert document was sent") -> Any:
        """A JSON value rendered leaf by leaf; one leaf that cannot render makes the whole
        value the fallback (a half-rendered payload is no one's format)."""
        return self._or_fallback(lambda: self.runtime.renderer.render_json(value, self.context, where=where),
                                 fallback, instead)

    def _or_fallback(self, render: Callable[[], Any], fallback: Any, instead: str) -> Any:
        try:
            return render()
        except TemplateError as exc:
            if fallback is _NO_FALLBACK:
                raise
            self.warn(f"{exc}; {instead}")
            return fallback

    def destination(self, source: str, *, where: str, url: bool = False) -> str:
        """A URL (`url=True`) or routing key: without one there is nowhere to send, so a
        template that cannot render (or renders blank) fails the delivery."""
        value = self.runtime.renderer.render(source, self.context, where=where, url=url).strip()
        if not value:
            raise TemplateError(f"{where}: rendered empty; nowhere to send")
        return value

    def json_body(self, value: Any, *, where: str) -> str:
        """Strict JSON text of `value`: inf/nan become null, each one a render warning."""
        clean, paths = finite_json(value)
        for path in paths:
            self.warn(f"{where}: non-finite number at {path} sent as null")
        return clean_text(json.dumps(clean, ensure_ascii=False, separators=(",", ":"),
                                     default=str, allow_nan=False))

    def document(self) -> dict[str, Any]:
        """The standard alert document with its rendered `message`."""
        return {**self.request.document, "message": self.message}

