"""`matches "regex"`: RE2 syntax (linear time), at most 500 characters (E302)."""

from __future__ import annotations

from functools import lru_cache

import re2

from dsl import ast as A
from dsl.catalog import MAX_REGEX_LENGTH
from dsl.diagnostics import Diagnostic, error


@lru_cache(maxsize=1)
def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern to stderr
    return options


def regex_error(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None when it compiles."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"the pattern is {len(pattern)} characters long; at most {MAX_REGEX_LENGTH} are allowed"
    try:
        re2.compile(pattern, options=_options())
    except re2.error as e:
        reason = e.args[0] if e.args else str(e)
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return None


def check_regex(right: A.Expr) -> Diagnostic | None:
    """E302 unless the right side of `matches` is a string literal that RE2 compiles."""
    if not isinstance(right, A.String):
        return error(right.span, "E302", "the pattern of `matches` must be a string literal",
                     'write it inline: `message matches "timeout|refused"`')
    reason = regex_error(right.value)
    if reason is None:
        return None
    return error(right.span, "E302", f"invalid regular expression: {reason}",
                 "patterns use RE2 syntax (no backreferences or lookaround)")
