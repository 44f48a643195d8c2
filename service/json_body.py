"""JSON request bodies for the API's own routes (rules, silences, alerts, dry runs).

    body, bad = parse_json(request)     # bad: a 400 problem response, or None

Stricter than `json.loads`: Python's parser accepts `NaN`, `Infinity` and escaped
unpaired surrogates (`"\\ud800"`), none of which is JSON text a client means to send,
and which MongoDB (UTF-8 BSON) or the JSON encoder of the answer would later choke on
with a 500. They are answered 400 here instead.
"""

from __future__ import annotations

import json

from sanic.request import Request
from sanic.response import HTTPResponse

from service.problems import problem


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json(request: Request) -> tuple[object, HTTPResponse | None]:
    """The JSON body, or a 400 problem (not UTF-8, not JSON, NaN/Infinity, unpaired surrogates)."""
    try:
        body = json.loads(request.body, parse_constant=_no_constant)
        # Re-encoding finds unpaired surrogates anywhere (keys included) in one C-speed pass.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError) as exc:
        return None, problem(400, f"the body is not JSON: {exc}")
    return body, None
