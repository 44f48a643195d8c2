"""Silences from the API: which alert events they mute, and until when.

A silence matches an alert when every matcher equals (as text) the value of that name
in the alert's labels: `monitor`, `severity`, each key field and each `label`.
"""

from __future__ import annotations

from datetime import datetime

from engine.model import Silence


def alert_labels(monitor: str, severity: str, key: dict, labels: dict) -> dict[str, str]:
    out = {k: "" if v is None else str(v) for k, v in key.items()}
    out.update(labels)
    out["monitor"] = monitor
    out["severity"] = severity
    return out


def matches(silence: Silence, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == str(v) for k, v in silence.matchers.items())


def active(silence: Silence, at: datetime) -> bool:
    return (silence.starts_at is None or silence.starts_at <= at) and at < silence.ends_at
