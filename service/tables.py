"""Plain-text tables for people: what `tocsin alerts` and `tocsin silences` print.

    print(table(["ID", "STATUS"], [["3f2a…", "firing"]]))

Columns are left-aligned and two spaces apart, with no trailing blanks, so the output
reads in a terminal and still splits on whitespace in a pinch (scripts should use
`--format json`). A cell is one line: control characters (a newline in a comment) become
spaces, and a cell longer than `max_cell` is cut with `…`, so one long message cannot push
every other column off the screen. Widths count East Asian wide characters as two.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

MAX_CELL = 48
NONE = "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_cell: int = MAX_CELL) -> str:
    """The rows under their headers, one line each; cells through `cell()`."""
    lines = [list(headers)] + [[cell(v, max_cell) for v in row] for row in rows]
    widths = [max(width(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "  ".join(text + " " * (widths[i] - width(text)) for i, text in enumerate(line)).rstrip()
        for line in lines)


def cell(value: Any, max_cell: int = MAX_CELL) -> str:
    """One value as a single line of at most `max_cell` columns (None: `-`)."""
    if value is None:
        text = NONE
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    if width(text) <= max_cell:
        return text
    cut = ""
    for c in text:
        if width(cut + c) > max_cell - 1:
            break
        cut += c
    return cut + "…"


def width(text: str) -> int:
    """Terminal columns: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def key_text(key: Mapping[str, Any] | None) -> str:
    """An alert key (or matchers, labels) as `field=value` pairs in name order, written
    as `tocsin silences add` takes them: `flow=Sync monitor="Sync failed"`."""
    if not key:
        return NONE
    return " ".join(f"{k}={_value_text(v)}" for k, v in sorted(key.items()))


def _value_text(value: Any) -> str:
    """A text as is unless blank, spaced or quoted (then JSON-quoted); anything else as JSON."""
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"'=" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


def short_time(text: str | None) -> str | None:
    """An RFC 3339 time from the API without its fraction: `2026-11-22T07:30:00Z`."""
    if not text:
        return None
    head, dot, rest = text.partition(".")
    return head + "Z" if dot and rest.endswith("Z") else text


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`name  value` lines, names padded to one width (a record, not a table)."""
    pad = max((len(name) for name, _ in pairs), default=0)
    return "\n".join(f"{name.ljust(pad)}  {cell(value, 200)}".rstrip() for name, value in pairs)
