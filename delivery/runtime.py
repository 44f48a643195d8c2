"""What a worker process holds for every delivery, and what one delivery sees.

`Runtime` (one per process, built lazily after a fork): settings, secrets, the template
renderer and two pooled HTTP clients (`LiteClient`, httpx API) behind the SSRF guard: `rules_http` for URLs that
come from rule files (webhook, Slack, PagerDuty; `TOCSIN_WEBHOOK_DENY_PRIVATE` applies)
and `operator_http` for endpoints the operator configured (SMS; link-local and metadata
addresses are still refused). Neither follows redirects,
keeps cookies or reads proxy variables.

`SendContext` (one per delivery) renders that delivery's templates; the rendered
`message` is computed once and is also `alert.message` in every later template.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from delivery.context import build_context
from delivery.request import DeliveryRequest
from delivery.secrets import Secrets
from delivery.settings import DeliverySettings
from delivery.ssrf import AddressPolicy, Resolver, system_resolver
from delivery.transport import LiteClient, guarded_transport
from delivery.templates import Renderer

DEFAULT_MESSAGE = "[{{ monitor.severity }}] {{ monitor.name }} {{ alert.kind }}"
USER_AGENT = "tocsin-delivery/0.1"


class Runtime:
    """Per-process delivery resources; thread-safe."""

    def __init__(
        self,
        settings: DeliverySettings | None = None,
        secrets: Secrets | None = None,
        *,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.settings = settings or DeliverySettings.from_env()
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


@dataclass
class SendContext:
    """One delivery's view: its request, template context and the process runtime."""

    request: DeliveryRequest
    runtime: Runtime
    context: dict[str, Any] = field(init=False)
    message: str = field(init=False)

    def __post_init__(self) -> None:
        self.context = build_context(self.request, self.runtime.secrets)
        template = self.request.message_template or DEFAULT_MESSAGE
        self.message = self.render(template, where="message")
        self.context["alert"]["message"] = self.message

    def render(self, source: str, *, where: str) -> str:
        return self.runtime.renderer.render(source, self.context, where=where)

    def render_json(self, value: Any, *, where: str) -> Any:
        return self.runtime.renderer.render_json(value, self.context, where=where)

    def document(self) -> dict[str, Any]:
        """The standard alert document with its rendered `message`."""
        return {**self.request.document, "message": self.message}
