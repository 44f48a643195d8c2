"""Secrets: `{{ secrets.NAME }}` values, resolved at send time and redacted everywhere.

A value comes from `TOCSIN_SECRET_<NAME>` or, failing that, from the file named by
`TOCSIN_SECRETS_FILE` (a JSON object `{"NAME": "value"}` or `NAME=value` lines, `#`
comments allowed). Secret values never enter a `DeliveryRequest`; `Secrets.redact()`
replaces every known value (and URL passwords) with `[REDACTED]` before an error or
record leaves a worker.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote

PREFIX = "TOCSIN_SECRET_"
REDACTED = "[REDACTED]"
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^@/\s]+@", re.I)


class Secrets:
    """A read-only view of the secrets available to this worker."""

    def __init__(self, values: Mapping[str, str], extra_sensitive: Iterable[str] = ()) -> None:
        self._values = dict(values)
        # Longest first, so a secret containing another is redacted whole.
        sensitive = {v for v in self._values.values() if v} | {v for v in extra_sensitive if v}
        self._sensitive = sorted(sensitive, key=len, reverse=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        env = os.environ if env is None else env
        values: dict[str, str] = {}
        path = env.get("TOCSIN_SECRETS_FILE")
        if path:
            values.update(_read_file(Path(path)))
        values.update({k[len(PREFIX):]: v for k, v in env.items() if k.startswith(PREFIX)})
        password = _url_password(env.get("TOCSIN_SMTP_URL") or "")
        extra = [password, unquote(password)]
        return cls(values, extra)

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def redact(self, text: str | None) -> str | None:
        """`text` with every secret value and URL password replaced by `[REDACTED]`."""
        if not text:
            return text
        for value in self._sensitive:
            if value in text:
                text = text.replace(value, REDACTED)
        return _URL_PASSWORD.sub(lambda m: m.group("scheme") + REDACTED + "@", text)


def _read_file(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        return {str(k): str(v) for k, v in data.items()}
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip().removeprefix(PREFIX)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values


def _url_password(url: str) -> str:
    match = re.match(r"[a-z][a-z0-9+.-]*://[^/:@\s]*:([^@/\s]+)@", url, re.I)
    return match.group(1) if match else ""
