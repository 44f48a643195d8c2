"""The one encoder of the API's JSON answers: strict JSON, whatever the data holds.

    Sanic(name, dumps=json_out.dumps)    # every `sanic.response.json(...)` goes through it

Stored data can hold numbers JSON has no text for: an alert's value `inf` (a `sum` of
two `1e308`), `nan`, an integer too long to print. Python's encoder would write
`Infinity`/`NaN` (which strict parsers and browsers refuse) or raise (a 500). Here such a
number is answered as `null`, the rule delivery bodies follow too
(`delivery.templates.finite_json`, one vocabulary). The common case costs one encoder
pass: the value is walked only when that pass refuses it.
"""

from __future__ import annotations

import json
from typing import Any

from delivery.templates import finite_json


def dumps(value: Any, **kwargs: Any) -> str:
    """Compact strict JSON of `value`; non-finite numbers (and unprintable integers) as null.

    `kwargs` are `json.dumps` options, as Sanic passes them from `json(body, **kwargs)`.
    """
    options = {"separators": (",", ":"), **kwargs, "allow_nan": False}
    try:
        return json.dumps(value, **options)
    except ValueError:  # inf/nan (allow_nan=False), or an integer past Python's digit limit
        clean, _ = finite_json(value)
        return json.dumps(clean, **options)
