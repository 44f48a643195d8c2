"""Diagnostics: the checker's result, a value rather than an exception.

Codes are stable; tools and tests rely on them. The catalogue lives in `CODES`
(code -> short name); `docs/diagnostics.md` explains each one. `ENVIRONMENT_CODES` are
reported only when the check is given the environment rules will run in (the service
does, `tocsin lint` does not).
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl.ast import Span

ERROR = "error"
WARNING = "warning"
INFO = "info"

CODES: dict[str, str] = {
    "E001": "syntax",
    "E002": "invalid-literal",
    "E003": "too-deeply-nested",
    "E004": "number-out-of-range",
    "E005": "duration-out-of-range",
    "E006": "text-too-large",
    "E101": "unknown-group",
    "E102": "unknown-channel",
    "E103": "unknown-schedule",
    "E104": "duplicate-name",
    "E105": "unknown-declaration",
    "E106": "unknown-setting",
    "E107": "missing-setting",
    "E108": "invalid-setting",
    "E201": "unknown-event-type",
    "E202": "unknown-field",
    "E203": "unknown-aggregate",
    "E204": "unknown-target-kind",
    "E205": "unknown-severity",
    "E206": "unknown-scope",
    "E207": "unknown-template-name",
    "E208": "unknown-template-field",
    "E301": "type-mismatch",
    "E302": "invalid-regex",
    "E303": "invalid-url",
    "E304": "invalid-email",
    "E305": "invalid-phone",
    "E306": "invalid-duration",
    "E307": "invalid-timezone",
    "E308": "invalid-template",
    "E309": "invalid-schedule",
    "E401": "clause-not-applicable",
    "E402": "duplicate-clause",
    "E403": "invalid-trigger",
    "W501": "unused-declaration",
    "W502": "never-fires",
    "W503": "unknown-template-variable",
    "W504": "template-value-may-be-missing",
    "W505": "unset-secret",
    "W506": "event-value-in-url",
    "W507": "secret-in-rules",
}

ENVIRONMENT_CODES = frozenset({"W505"})


@dataclass(frozen=True, slots=True)
class Diagnostic:
    span: Span
    severity: str
    code: str
    message: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_dict(self) -> dict:
        """The JSON shape shared by `tocsin lint --format json` and the HTTP API."""
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def error(span: Span, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(span, ERROR, code, message, hint)


def warning(span: Span, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(span, WARNING, code, message, hint)


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.column, d.code)
