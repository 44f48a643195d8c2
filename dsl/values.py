"""Validators for literal values: URL (E303), e-mail (E304), phone (E305), time zone
(E307) and schedule days (E309). Each returns a Diagnostic or None."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from urllib.parse import urlsplit

import email_validator
import phonenumbers

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error
from dsl.suggest import did_you_mean
from dsl.templates import is_template, is_whole_template

_TEMPLATE_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def check_url(s: A.String) -> Diagnostic | None:
    """An absolute http(s) URL; a value that is one whole `{{ template }}` is let through."""
    if is_whole_template(s.value):
        return None
    text = _TEMPLATE_PART.sub("x", s.value) if is_template(s.value) else s.value
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        return error(s.span, "E303", f"invalid URL: {e}")
    if parts.scheme.lower() not in ("http", "https"):
        return error(s.span, "E303", f"invalid URL `{s.value}`: it must start with http:// or https://",
                     f"did you mean `https://{s.value}`?" if "://" not in s.value else None)
    if not parts.hostname or any(c.isspace() for c in text):
        return error(s.span, "E303", f"invalid URL `{s.value}`: no host name", "e.g. `https://hooks.example.com/x`")
    return None


@lru_cache(maxsize=4096)
def _email_problem(address: str) -> str | None:
    """Why an address is invalid, or None; rule sets repeat the same few addresses."""
    try:
        email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as e:
        return str(e)
    return None


def check_email(s: A.String) -> Diagnostic | None:
    problem = _email_problem(s.value)
    if problem is not None:
        return error(s.span, "E304", f"invalid e-mail address `{s.value}`: {problem}")
    return None


def check_phone(s: A.String) -> Diagnostic | None:
    """E.164 (`+15550100`): a `+`, a country code and a possible length for it.

    `is_possible_number` (length only) is used rather than `is_valid_number`, so the
    reserved 555 numbers of examples and tests pass."""
    text = s.value
    hint = "write phone numbers in E.164 form: `+` country code and number, e.g. `+14155550100`"
    if not text.startswith("+"):
        return error(s.span, "E305", f"invalid phone number `{text}`: it must start with `+` and the country code", hint)
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return error(s.span, "E305", f"invalid phone number `{text}`", hint)
    if not re.fullmatch(r"\+[0-9 ()./-]+", text) or not phonenumbers.is_possible_number(number):
        return error(s.span, "E305", f"invalid phone number `{text}`: wrong length or characters", hint)
    return None


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def check_timezone(s: A.String) -> Diagnostic | None:
    try:
        if not s.value or s.value.startswith("/") or ".." in s.value:
            raise ValueError(s.value)
        zoneinfo.ZoneInfo(s.value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(s.value, _zones(), quote='"') or 'use an IANA name like "Europe/Berlin" or "UTC"'
        return error(s.span, "E307", f'unknown time zone "{s.value}"', hint)
    return None


def day_number(word: str) -> int | None:
    """0 = Monday … 6 = Sunday for `mon` or `monday` (any case), else None."""
    w = word.lower()
    for names in (C.DAYS, C.DAY_NAMES):
        if w in names:
            return names.index(w)
    return None


def parse_days(v: A.Word | A.String) -> tuple[set[int], Diagnostic | None]:
    """`sat`, `mon-fri` (ranges may wrap: `fri-mon`) -> day numbers, or an E309."""
    text = v.value
    ends = text.split("-")
    if len(ends) > 2 or not all(ends):
        return set(), error(v.span, "E309", f"`{text}` is not a day or a range of days", "e.g. `mon-fri` or `sat, sun`")
    numbers = [day_number(e) for e in ends]
    for end, n in zip(ends, numbers):
        if n is None:
            hint = did_you_mean(end, C.DAYS) or "days are " + ", ".join(C.DAYS)
            return set(), error(v.span, "E309", f"`{end}` is not a day", hint)
    first, last = numbers[0], numbers[-1]
    days = {(first + i) % 7 for i in range((last - first) % 7 + 1)}
    return days, None
