"""JSON in requests: the one parser of every route's body and of the list cursors.

    body, bad = parse_json(request)     # bad: a 400 problem response, or None
    body = read_json(request)           # the same, raising the 400 as a `Problem`
    value = loads(text)                 # raises NotJson (a ValueError) with a clear reason

Stricter than `json.loads`: Python's parser accepts `NaN`, `Infinity` and escaped
unpaired surrogates (`"\\ud800"`), none of which is JSON text a client means to send,
and which MongoDB (UTF-8 BSON) or the JSON encoder of the answer would later choke on
with a 500. They are answered 400 here instead, except where the route reports each
with a JSON Pointer itself (`POST /v1/events`: 422, `values_checked=True`).

Arrays and objects nested about 1,000 levels deep exhaust Python's recursion limit in
the parser (`RecursionError`, not a `ValueError`): that is a 400 "nested too deeply"
here too, on every route, never a 500. Shallower nesting is each route's business
(events: `data` at most 32 levels, 422).
"""

from __future__ import annotations

import json

from sanic.request import Request
from sanic.response import HTTPResponse

from service.problems import Problem, problem


class NotJson(ValueError):
    """Text that is not JSON this service reads; the message says why, for a client."""


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _may_hold_surrogates(text: bytes | str) -> bool:
    """Can `text` decode to an unpaired surrogate? Only through a `\\u` escape or the raw
    UTF-8 bytes of one (0xED 0xA0-0xBF, which `json.loads` decodes with surrogatepass).
    Two substring searches spare the re-encoding of almost every body."""
    if isinstance(text, str):
        return "\\u" in text or not text.isascii()
    return b"\\u" in text or b"\xed" in text


def loads(text: bytes | str, *, values_checked: bool = False) -> object:
    """Parse JSON text; `NotJson` with the reason when it is not JSON this service takes.

    `values_checked=True` lets `NaN`, `Infinity` and unpaired surrogates through, for a
    caller that reports each of them with its path (the events route)."""
    try:
        value = json.loads(text, parse_constant=None if values_checked else _no_constant)
        if not values_checked and _may_hold_surrogates(text):
            # Re-encoding finds unpaired surrogates anywhere (keys included) in one C-speed pass.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise NotJson("arrays or objects are nested too deeply (about 1,000 levels) to be read") from None
    except UnicodeDecodeError as exc:
        raise NotJson(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except UnicodeEncodeError:
        raise NotJson("text with an unpaired surrogate (\\ud800-\\udfff) is not Unicode") from None
    except ValueError as exc:
        raise NotJson(str(exc)) from None
    return value


def read_json(request: Request, *, values_checked: bool = False) -> object:
    """The JSON body; `Problem(400)` when it is not UTF-8, not JSON, nested too deeply, and
    unless `values_checked`, when it holds NaN/Infinity or unpaired surrogates."""
    try:
        return loads(request.body, values_checked=values_checked)
    except NotJson as exc:
        raise Problem(400, f"the body is not JSON: {exc}") from None


def parse_json(request: Request, *, values_checked: bool = False) -> tuple[object, HTTPResponse | None]:
    """`read_json` for a handler that returns its problems: (body, None) or (None, the 400)."""
    try:
        return read_json(request, values_checked=values_checked), None
    except Problem as exc:
        return None, problem(exc.status, exc.detail)
