"""Secrets: `{{ secrets.NAME }}` values, resolved at send time and redacted everywhere.

A value comes from `TOCSIN_SECRET_<NAME>` or, failing that, from the file named by
`TOCSIN_SECRETS_FILE` (a JSON object `{"NAME": "value"}` or `NAME=value` lines, `#`
comments allowed). Secret values never enter a `DeliveryRequest`; `Secrets.redact()`
replaces, with `[REDACTED]`, before an error or record leaves a worker:
- every known value, and for values of 6 characters or more the forms a receiver
  echoes back: URL-encoded (`quote`, `quote_plus`), JSON-escaped, and base64 (standard
  and URL-safe, alone or inside a longer base64 text such as `Basic base64(SID:TOKEN)`,
  whatever comes before it): the whole base64 word that holds it is replaced;
- URL passwords (`scheme://user:password@`) and the credentials of an echoed
  `Authorization: Basic|Bearer|Token|GenieKey …` header.
Pieces of a secret are not looked for here (any short string is a piece of something);
template error messages, where a template could cut a secret into pieces, are kept free
of them by `delivery.sandbox` (see its docstring).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

PREFIX = "TOCSIN_SECRET_"
REDACTED = "[REDACTED]"
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^@/\s]+@", re.I)
_AUTHORIZATION = re.compile(r"(?P<head>authorization[\"']?\s*[:=]\s*[\"']?(?:basic|bearer|token|geniekey)\s+)[^\s\"',;}]+", re.I)
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/_=-]+")
DERIVED_MIN_LENGTH = 6  # shorter values are redacted as written only


class Secrets:
    """A read-only view of the secrets available to this worker."""

    def __init__(self, values: Mapping[str, str], extra_sensitive: Iterable[str] = ()) -> None:
        self._values = dict(values)
        # Longest first, so a secret containing another is redacted whole.
        sensitive = {v for v in self._values.values() if v} | {v for v in extra_sensitive if v}
        forms = set(sensitive)
        cores: set[str] = set()
        for value in sensitive:
            if len(value) >= DERIVED_MIN_LENGTH:
                forms |= _text_forms(value)
                cores |= _base64_cores(value)
        self._sensitive = sorted((f for f in forms if f), key=len, reverse=True)
        self._base64_cores = sorted(cores, key=len, reverse=True)

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

    def redact(self, text: str | None, *, limit: int | None = None) -> str | None:
        """`text` with every secret (and its echoed forms) and URL password replaced by
        `[REDACTED]`; then cut to `limit` characters, so a cut never keeps part of one."""
        if not text:
            return text
        for core in self._base64_cores:  # before the plain forms: a word is replaced whole
            if core in text:
                text = _replace_words_holding(text, core)
        for value in self._sensitive:
            if value in text:
                text = text.replace(value, REDACTED)
        text = _URL_PASSWORD.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
        text = _AUTHORIZATION.sub(lambda m: m.group("head") + REDACTED, text)
        if limit is not None and len(text) > limit:
            text = text[:limit].rstrip() + "…"
        return text


def _text_forms(value: str) -> set[str]:
    """How a receiver may echo `value` in text: URL-encoded, JSON-escaped."""
    return {
        quote(value, safe=""), quote(value), quote_plus(value),
        json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
    }


def _base64_cores(value: str) -> set[str]:
    """The base64 characters that `value` alone decides, at each of the 3 byte offsets it
    may start at inside a longer base64 text (`base64(SID + ":" + TOKEN)`), standard and
    URL-safe. A core shorter than 8 characters would match by chance and is left out."""
    raw = value.encode("utf-8")
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        head = 4 if offset else 0  # the first quad mixes in the bytes before
        whole = (offset + len(raw)) // 3 * 4  # the last partial quad mixes in what follows
        core = encoded[head:whole]
        cores |= {core, core.replace("+", "-").replace("/", "_")}
    alone = base64.b64encode(raw).decode("ascii")
    cores |= {alone, alone.rstrip("="), base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")}
    return {c for c in cores if len(c) >= 8}


def _replace_words_holding(text: str, core: str) -> str:
    return _BASE64_WORD.sub(lambda m: REDACTED if core in m.group(0) else m.group(0), text)


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
