"""A running `tocsin serve`, over HTTP: what `tocsin alerts` and `tocsin silences` talk to.

    client = ServiceClient.connect(url=None, key=None)   # TOCSIN_URL, TOCSIN_API_KEY
    page = client.call("GET", "/v1/alerts", params={"status": "firing"})

Each failure is one exception carrying the exit code the command ends with (api.md §
Console and CLI: 0 ok, 1 not found or refused, 2 usage, 3 service unreachable):

    ServiceError            .exit_code, .message, .details (a problem's errors[], as lines)
     ├── Refused            1: 401, 403, 404, 409 and any other answer that is not a success
     ├── Invalid            2: 400, 413, 415, 422: the service judged the command's arguments
     │                         (an unknown status, a silence of two years): a usage error
     └── Unreachable        3: no connection, a timeout, 502/503/504, or an answer that is
                               not the service's (not JSON where JSON is due: the URL points
                               at something else)

The default URL is the local service at its default port, so on the machine that runs
`make run` no option is needed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:  # httpx is imported when a command connects, not by every `tocsin` command
    import httpx

OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3
T = TypeVar("T")
# The service answers an acknowledge or clear within its 5 s command wait; the rest fast.
TIMEOUT_SECONDS, CONNECT_TIMEOUT_SECONDS = 30.0, 5.0
GATEWAY_STATUSES = (502, 503, 504)
INVALID_STATUSES = (400, 413, 415, 422)


@dataclass
class ServiceError(Exception):
    """A command that could not be done; `exit_code` says how the process ends."""

    message: str
    details: list[str] = field(default_factory=list)
    exit_code: int = REFUSED

    def __str__(self) -> str:
        return self.message


def report(command: str, exc: ServiceError) -> int:
    """Print why `command` failed (the message, then each detail) on stderr; its exit code."""
    print(f"{command}: {exc.message}", file=sys.stderr)
    for line in exc.details:
        print(f"  {line}", file=sys.stderr)
    return exc.exit_code


class Refused(ServiceError):
    """The service answered no (not found, conflict, no key, wrong scope)."""


class Invalid(ServiceError):
    """The service found the command's arguments invalid."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message, details or [], USAGE)


class Unreachable(ServiceError):
    """No answer from a Tocsin service at that URL."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message, details or [], UNREACHABLE)


def default_url() -> str:
    """`TOCSIN_URL`, else the local service where `tocsin serve` listens by default."""
    from service.config import Config

    fields = Config.model_fields
    return os.environ.get("TOCSIN_URL") or f"http://{fields['host'].default}:{fields['port'].default}"


def path_id(value: str) -> str:
    """An id as one path segment (an id with `/` or `?` cannot reach another route)."""
    return quote(value, safe="")


class ServiceClient:
    """One service, one key; `call()` answers the decoded JSON or raises a ServiceError."""

    def __init__(self, url: str, key: str | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        import httpx

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--url must be an http(s) URL such as http://127.0.0.1:8080, not {url!r}")
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, transport=transport,
                                  timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS))

    @classmethod
    def connect(cls, url: str | None, key: str | None) -> ServiceClient:
        """From the options, falling back to `TOCSIN_URL` and `TOCSIN_API_KEY`."""
        return cls(url or default_url(), key or os.environ.get("TOCSIN_API_KEY") or None)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: Any = None) -> Any:
        """The answer's JSON (None for 204); a ServiceError for anything else."""
        import httpx

        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException as exc:
            raise Unreachable(f"no answer from {self.url} in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the service at {self.url}: {exc or type(exc).__name__}",
                              ["is `tocsin serve` running there? (--url, TOCSIN_URL)"]) from exc
        return _decode(response, self.url)


def _decode(response: httpx.Response, url: str) -> Any:
    status = response.status_code
    if status == 204:
        return None
    try:
        body = response.json()
    except ValueError:
        raise Unreachable(f"{url} answered {status} with something that is not Tocsin's JSON",
                          ["is --url (or TOCSIN_URL) the address of `tocsin serve`?"]) from None
    if response.is_success:
        return body
    problem = body if isinstance(body, dict) else {}
    message = f"{status} {problem.get('detail') or problem.get('title') or response.reason_phrase}"
    details = [_error_line(e) for e in problem.get("errors") or () if isinstance(e, dict)]
    if status in GATEWAY_STATUSES:
        raise Unreachable(message, details)
    if status in INVALID_STATUSES:
        raise Invalid(message, details)
    raise Refused(message, details)


def _error_line(error: dict[str, Any]) -> str:
    """One `errors[]` entry: a diagnostic's place and code, or a field's path."""
    if "code" in error and "line" in error:
        return f"{error.get('file')}:{error.get('line')}:{error.get('column')}: {error['code']} {error.get('message')}"
    path = error.get("path")
    return f"{path}: {error.get('message')}" if path else str(error.get("message"))


def with_service(command: str, url: str | None, key: str | None,
                 act: Callable[[ServiceClient], T]) -> tuple[T | None, int]:
    """Connect, `act`, disconnect: (act's answer, OK), or (None, the exit code) once the
    failure is printed (a bad `--url` is a usage error; the service's errors by `report`)."""
    try:
        client = ServiceClient.connect(url, key)
    except ValueError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None, USAGE
    try:
        return act(client), OK
    except ServiceError as exc:
        return None, report(command, exc)
    finally:
        client.close()
