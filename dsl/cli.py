"""`tocsin lint` and `tocsin fmt`: rule files on disk -> diagnostics or canonical text.

Paths are files or directories (searched recursively for `*.rules`, in sorted order);
a path that does not exist is a usage error (exit 2). Lint checks all files together,
so references resolve across them. Exit codes: 0 clean, 1 errors (lint) or files that
need formatting / could not be formatted (fmt), 2 usage.
"""

from __future__ import annotations

import json
import os
import sys

from dsl import ast as A
from dsl.checker import check, finish
from dsl.diagnostics import Diagnostic, error, has_errors
from dsl.parser import parse
from dsl.report import render_all, summary


class UsageError(Exception):
    """A path that cannot be used; reported on stderr with exit code 2."""


def find_rule_files(paths: list[str]) -> list[str]:
    """Files as given plus `*.rules` under directories, each once, in order."""
    found: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            candidates = []
            for root, dirs, files in os.walk(path):
                dirs.sort()
                candidates += [os.path.join(root, f) for f in sorted(files) if f.endswith(".rules")]
            if not candidates:  # a mistyped or empty directory must not look like clean rules
                raise UsageError(f"{path}: no rule files (*.rules) in this directory")
        elif os.path.exists(path):
            candidates = [path]
        else:
            raise UsageError(f"{path}: no such file or directory")
        for c in candidates:
            key = os.path.realpath(c)
            if key not in seen:
                seen.add(key)
                found.append(c)
    return found


def read_sources(files: list[str]) -> tuple[dict[str, str], list[Diagnostic]]:
    """{path: text}; a file that is not UTF-8 becomes an E001 instead."""
    sources: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for f in files:
        try:
            with open(f, "rb") as fh:
                data = fh.read()
        except OSError as e:
            raise UsageError(f"{f}: {e.strerror or e}") from None
        try:
            sources[f] = data.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(error(A.Span(f, 1, 1, 1, 1), "E001", f"the file is not UTF-8 text ({e.reason} "
                                  f"at byte {e.start})", "rule files are UTF-8"))
    return sources, problems


def lint_sources(sources: dict[str, str]) -> list[Diagnostic]:
    """Syntax and semantic diagnostics of all sources checked together, sorted."""
    files, diagnostics = [], []
    for name, text in sources.items():
        rule_file, syntax = parse(text, file=name)
        files.append(rule_file)
        diagnostics.extend(syntax)
    return finish(diagnostics + check(files))


def _load_paths(command: str, paths: list[str]):
    """(files, sources, unreadable-file diagnostics), or exit status 2 on a usage error."""
    try:
        files = find_rule_files(paths)
        sources, unreadable = read_sources(files)
    except UsageError as e:
        print(f"tocsin {command}: {e}", file=sys.stderr)
        return 2
    return files, sources, unreadable


def lint_command(args) -> int:
    """`tocsin lint PATH… [--format text|json]`."""
    loaded = _load_paths("lint", args.paths)
    if isinstance(loaded, int):
        return loaded
    files, sources, unreadable = loaded
    diagnostics = finish(unreadable + lint_sources(sources))
    ok = not has_errors(diagnostics)
    if getattr(args, "format", "text") == "json":
        print(json.dumps({"ok": ok, "diagnostics": [d.to_dict() for d in diagnostics]}, indent=2))
    else:
        if diagnostics:
            print(render_all(diagnostics, sources))
            print()
        print(summary(diagnostics, len(files)))
    return 0 if ok else 1


def fmt_command(args) -> int:
    """`tocsin fmt [--check] PATH…`: rewrite files canonically, or list those that differ."""
    from dsl.formatter import format_file

    loaded = _load_paths("fmt", args.paths)
    if isinstance(loaded, int):
        return loaded
    files, sources, unreadable = loaded
    status = 0
    if unreadable:
        print(render_all(unreadable, {}), file=sys.stderr)
        status = 1
    for path, text in sources.items():
        rule_file, syntax = parse(text, file=path)
        if has_errors(syntax):
            print(render_all(syntax, {path: text}), file=sys.stderr)
            print(f"{path}: not formatted: fix the syntax errors first", file=sys.stderr)
            status = 1
            continue
        formatted = format_file(rule_file)
        if parse(formatted, file=path)[0].declarations != rule_file.declarations:
            print(f"{path}: not formatted: the formatter would change its meaning (a bug; please report)",
                  file=sys.stderr)
            status = 1
            continue
        if formatted == text:
            continue
        if args.check:
            print(path)
            status = 1
        else:
            try:
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    fh.write(formatted)
            except OSError as e:
                print(f"{path}: not formatted: {e.strerror or e}", file=sys.stderr)
                status = 1
                continue
            print(f"formatted {path}")
    return status
