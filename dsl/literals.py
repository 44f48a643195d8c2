"""Literal text -> values: numbers, durations and string escapes, with their limits.

Pure functions; `dsl.transform` turns what they refuse into diagnostics at the
literal's span (E004 numbers, E005 durations, E002 escapes). Limits: `dsl.limits`.
"""

from __future__ import annotations

import re

from dsl.limits import MAX_DURATION_SECONDS, MAX_NUMBER, MAX_NUMBER_CHARS

DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
# A whole duration's text (the grammar's DURATION without its look-ahead): what the service's
# settings, query values and the API schema take (service/config.py `parse_duration`).
DURATION_PATTERN = r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+"
_DIGITS = re.compile(r"\d+").fullmatch
# A pair of UTF-16 surrogates first (one character), then any one escape.
_ESCAPE = re.compile(r"\\(u[dD][89abAB][0-9A-Fa-f]{2}\\u[dD][c-fC-F][0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|.)", re.S)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}

NUMBER_HINT = (f"numbers are written in at most {MAX_NUMBER_CHARS} characters and lie within "
               f"±{MAX_NUMBER:.3g} (a 64-bit float)")
DURATION_HINT = f"durations are at most {MAX_DURATION_SECONDS // 86400}d (ten years)"
ESCAPE_HINT = 'use \\" \\\\ \\n \\t or \\uXXXX'
SURROGATE_HINT = "write the character itself, or both halves: `\\uD83D\\uDE00`"


def parse_duration(text: str) -> float:
    """Seconds of a duration literal (an int when whole); beyond `MAX_DURATION_SECONDS`
    it is returned as a float, maybe `inf`, for the caller to refuse."""
    total = 0.0
    for amount, unit in _DURATION_PART.findall(text):
        total += float(amount) * DURATION_UNITS[unit]
    if total > MAX_DURATION_SECONDS:
        return total
    return int(total) if total == int(total) else total


def parse_number(text: str) -> int | float | None:
    """The value of a number literal (`42`, `3.5`, `1e3`), or None when out of range."""
    if len(text) > MAX_NUMBER_CHARS:
        return None
    value: int | float = int(text) if _DIGITS(text) else float(text)
    return value if -MAX_NUMBER <= value <= MAX_NUMBER else None


def decode_escapes(body: str) -> tuple[str, list[tuple[str, str]]]:
    """A string literal's text with its escapes decoded, and (message, hint) for each
    escape that is refused: unknown ones, and lone UTF-16 surrogates (`\\uD800`), which
    are no character: nothing could store, send or match them. Each refused escape
    reads as itself or U+FFFD so the rest still decodes."""
    if "\\" not in body:
        return body, []
    problems: list[tuple[str, str]] = []

    def unescape(m: re.Match) -> str:
        esc = m.group(1)
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        if esc[0] == "u" and len(esc) == 11:  # a surrogate pair: one character
            high, low = int(esc[1:5], 16), int(esc[7:], 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if esc[0] == "u" and len(esc) == 5:
            code = int(esc[1:], 16)
            if 0xD800 <= code <= 0xDFFF:
                problems.append((f"`\\{esc}` is half of a UTF-16 surrogate pair, not a character",
                                 SURROGATE_HINT))
                return "\ufffd"
            return chr(code)
        problems.append((f"unknown escape `\\{esc}` in string", ESCAPE_HINT))
        return esc

    return _ESCAPE.sub(unescape, body), problems


def shown(text: str) -> str:
    """Source text as quoted in a message: long pieces cut short."""
    return text if len(text) <= 40 else text[:37] + "…"
