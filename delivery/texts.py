"""The standard texts: what a notification says when its monitor has no `message`.

One line a person can read on a phone, with one tag in front (the severity, or
`resolved`), then the monitor, the round, where it happened and the error:

    [critical] Execution failed: Acme Salesforce Sync, flow Sync, step Fetch orders: HTTP 503
    [critical] Execution failed (again, 3 times): Acme Salesforce Sync, flow Sync: HTTP 503
    [resolved] Execution failed: Acme Salesforce Sync, flow Sync
    [critical] Sync failure rate: flow=Sync, 25% (threshold 10%)

They are built in Python, not from a template, so they cannot fail: they are also what a
notification falls back to when its own template cannot render. `detail_rows()` is the
table the e-mail body shows under the message. Numbers are rounded for people
(`format_number`); the documents sent to machines keep full precision.
"""

from __future__ import annotations

import math
from typing import Any

from delivery.context import alert_facts, format_key
from delivery.request import DeliveryRequest
from delivery.templates import clean_text

MAX_ERROR = 300  # characters of the error kept in one-line texts


def format_number(value: Any) -> str:
    """Rounded for reading: integers as they are, three significant digits below 100,
    whole numbers from 100 on; `inf`/`nan` spelled out."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    magnitude = abs(value)
    if magnitude >= 1e15 or magnitude < 1e-4:
        return f"{value:.3g}"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def format_value(value: Any, value_format: str | None) -> str:
    """The alert's value or threshold in the unit of its monitor (`25%`, `12.5 s`)."""
    if value is None:
        return ""
    if value_format == "percent" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value * 100) + "%"
    if value_format == "seconds" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value) + " s"
    return format_number(value)


def one_line(text: str, limit: int = MAX_ERROR) -> str:
    """Whitespace and control characters folded to single spaces, cut at `limit`."""
    folded = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def tag(document: dict[str, Any]) -> str:
    """`[critical]`, or `[resolved]` for a resolution."""
    return "[resolved]" if document.get("kind") == "resolved" else f"[{document.get('severity')}]"


def default_message(request: DeliveryRequest) -> str:
    """The standard text of one alert event (see the module docstring)."""
    doc = request.document
    facts = alert_facts(request)
    kind = doc.get("kind")
    head = f"{tag(doc)} {one_line(str(doc.get('monitor') or 'Alert'), 200)}"
    if kind == "repeated":
        count = doc.get("count")
        head += f" (again, {count} times)" if isinstance(count, int) and count > 1 else " (again)"
    elif kind == "escalated":
        head += " (escalated)"
    where = [one_line(facts["instance"], 200)] if facts["instance"] else []
    where += [f"{name} {one_line(facts[name], 200)}" for name in ("flow", "step", "connection")
              if facts[name]]
    if not where and doc.get("key"):
        where.append(one_line(format_key(doc.get("key")), 200))
    value = _value_part(request)
    if value:
        where.append(value)
    text = head + (": " + ", ".join(where) if where else "")
    if facts["error"] and kind != "resolved":
        text += ": " + one_line(facts["error"])
    return clean_text(text)


def _value_part(request: DeliveryRequest) -> str:
    doc = request.document
    fmt = (request.extra or {}).get("value_format")
    value = format_value(doc.get("value"), fmt)
    if not value:
        return ""
    threshold = format_value(doc.get("threshold"), fmt)
    return f"{value} (threshold {threshold})" if threshold else value


def detail_rows(request: DeliveryRequest) -> list[tuple[str, str]]:
    """The facts of the alert as (label, text) rows, empty ones left out."""
    doc = request.document
    facts = alert_facts(request)
    fmt = (request.extra or {}).get("value_format")
    rows = [
        ("Monitor", doc.get("monitor")), ("Severity", doc.get("severity")),
        ("Status", f"{doc.get('status')} ({doc.get('kind')})"), ("Trigger", (request.extra or {}).get("trigger")),
        ("Instance", facts["instance"]), ("Flow", facts["flow"]), ("Step", facts["step"]),
        ("Customer", facts["customer"]), ("Connection", facts["connection"]),
        ("Execution", facts["execution_id"]), ("Error", one_line(facts["error"], 2000)),
        ("Key", format_key(doc.get("key"))), ("Count", doc.get("count")),
        ("Value", format_value(doc.get("value"), fmt)),
        ("Threshold", format_value(doc.get("threshold"), fmt)),
        ("Fired at", doc.get("fired_at")), ("Resolved at", doc.get("resolved_at")),
        ("Link", doc.get("url")), ("Runbook", request.monitor.get("runbook")),
    ]
    return [(label, clean_text(str(value))) for label, value in rows if value not in (None, "")]
