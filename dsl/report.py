"""Diagnostics as text, compiler style: `file:line:col: severity CODE: message`, the
source line with a caret underline, and the hint.

    rules/ops.rules:3:30: error E101: unknown group "DevOp"
        3 | when execution.failed notify group "DevOp"
          |                              ^^^^^^^
        hint: did you mean "DevOps"?
"""

from __future__ import annotations

from dsl.diagnostics import Diagnostic


def render(d: Diagnostic, source: str | None) -> str:
    """One diagnostic; `source` is its file's text (None: no source lines shown)."""
    return _render(d, source.splitlines() if source is not None else [])


def _render(d: Diagnostic, text_lines: list[str]) -> str:
    s = d.span
    lines = [f"{s.file}:{s.line}:{s.column}: {d.severity} {d.code}: {d.message}"]
    if 1 <= s.line <= len(text_lines):
        line = text_lines[s.line - 1]
        number = str(s.line)
        gutter = " " * len(number)
        start = min(s.column - 1, len(line))
        end = s.end_column - 1 if s.end_line == s.line else len(line)
        width = max(1, min(end, len(line)) - start)
        pad = "".join("\t" if ch == "\t" else " " for ch in line[:start])
        lines.append(f"    {number} | {line}")
        lines.append(f"    {gutter} | {pad}{'^' * width}")
    if d.hint:
        lines.append(f"    hint: {d.hint}")
    return "\n".join(lines)


def render_all(diagnostics: list[Diagnostic], sources: dict[str, str]) -> str:
    """Every diagnostic, blank-line separated, in the given order (each file's text is
    split into lines once: a file with thousands of errors stays linear)."""
    split: dict[str, list[str]] = {}
    out = []
    for d in diagnostics:
        file = d.span.file
        if file not in split:
            source = sources.get(file)
            split[file] = source.splitlines() if source is not None else []
        out.append(_render(d, split[file]))
    return "\n\n".join(out)


def summary(diagnostics: list[Diagnostic], files: int) -> str:
    """`2 errors, 1 warning in 3 files`."""
    counts = {}
    for d in diagnostics:
        counts[d.severity] = counts.get(d.severity, 0) + 1
    parts = [_plural(counts.get("error", 0), "error"), _plural(counts.get("warning", 0), "warning")]
    if counts.get("info"):
        parts.append(_plural(counts["info"], "info"))
    return f"{', '.join(parts)} in {_plural(files, 'file')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
