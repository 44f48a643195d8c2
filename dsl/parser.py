"""Text -> `RuleFile` plus syntax diagnostics, recovering at the next declaration.

The fast path parses the whole file in one LALR pass with the AST built inline. When
that fails, the file is cut into declarations (a `when`, a `monitor "…"` or a
`KIND "NAME" {` at nesting depth 0) and each is parsed alone, so every broken
declaration gets its own diagnostic and the good ones still come through.
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from dsl import ast as A
from dsl.diagnostics import Diagnostic, error
from dsl.lalr import Driver
from dsl.lexer import Tok as Token
from dsl.lexer import TocsinLexer
from dsl.transform import DeclarationError, ToAst, context


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer=TocsinLexer,
        keep_all_tokens=True,
        maybe_placeholders=False,
        lexer_callbacks={"COMMENT": _keep_comment},
        cache=False,
    )


_comments: list[A.Comment] = []


def _keep_comment(tok: Token) -> Token:
    _comments.append(A.Comment(str(tok), A.Span(context.file, tok.line, tok.column,
                                                tok.end_line, tok.end_column)))
    return tok


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building a tree.

    Parsing allocates many small objects and no reference cycles, yet each burst of
    allocations triggers collections that walk everything alive: a third of parse time.
    Reference counting still frees everything as usual; collection resumes after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse(text: str, file: str = "<string>") -> tuple[A.RuleFile, list[Diagnostic]]:
    """Parse one rule file. Returns what parsed and the syntax diagnostics (maybe empty)."""
    with gc_paused():
        return _parse(text, file)


def _parse(text: str, file: str) -> tuple[A.RuleFile, list[Diagnostic]]:
    context.file = file
    context.diagnostics = []
    _comments.clear()
    try:
        decls = _run(text)
        diagnostics = list(context.diagnostics)
    except (UnexpectedInput, DeclarationError, VisitError):
        decls, diagnostics = _parse_by_declaration(text, file)
        _comments.clear()
        _collect_comments(text, file)
    comments = tuple(_comments)
    _comments.clear()
    lines = text.count("\n") + 1
    last_col = len(text) - (text.rfind("\n") + 1) + 1
    return A.RuleFile(file, tuple(decls), comments, A.Span(file, 1, 1, lines, last_col)), diagnostics


@lru_cache(maxsize=1)
def _driver() -> tuple[Driver, TocsinLexer]:
    lark = _parser()
    lexer = TocsinLexer(lark.lexer_conf)
    lexer.comment_callback = _keep_comment
    return Driver(lark, ToAst()), lexer


def _run(text: str) -> tuple:
    driver, lexer = _driver()
    accepts = driver.actions

    def tokens(source: str, stack: list):
        return lexer.scan(source, lambda: accepts[stack[-1]])

    try:
        return driver.parse(text, tokens)
    except VisitError as e:  # a callback raised: unwrap our own error
        if isinstance(e.orig_exc, DeclarationError):
            raise e.orig_exc from None
        raise


# ----------------------------------------------------------------- recovery

_TOKEN = re.compile(
    r'(?P<long>"""(?:[^"\\]|\\.|"(?!""))*(?:"""|$))'
    r'|(?P<str>"(?:[^"\\\n]|\\.)*(?:"|$))'
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_-]*)"
    r"|(?P<open>[{\[(])|(?P<close>[}\])])"
    r"|(?P<other>[^\s])",
    re.S | re.M,
)


def split_declarations(text: str) -> list[int]:
    """Offsets where top-level declarations start (a best effort on broken text)."""
    tokens = [(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(text)
              if m.lastgroup != "comment"]
    starts: list[int] = []
    depth = 0
    for i, (kind, value, pos) in enumerate(tokens):
        if kind == "open":
            depth += 1
            continue
        if kind == "close":
            depth = max(0, depth - 1)
            continue
        if depth or kind != "word":
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        nxt2 = tokens[i + 2] if i + 2 < len(tokens) else None
        prev = tokens[i - 1] if i else None
        prev2 = tokens[i - 2] if i > 1 else None
        if value == "when":
            if not (prev and prev2 and prev[0] in ("str", "long") and prev2[1] == "monitor"):
                starts.append(pos)
        elif value == "monitor" and nxt and nxt[0] in ("str", "long"):
            starts.append(pos)
        elif nxt and nxt2 and nxt[0] == "str" and nxt2[1] == "{":
            starts.append(pos)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return starts


def _parse_by_declaration(text: str, file: str) -> tuple[list, list[Diagnostic]]:
    starts = split_declarations(text)
    bounds = list(zip(starts, starts[1:] + [len(text)]))
    decls: list = []
    diagnostics: list[Diagnostic] = []
    for begin, end in bounds:
        chunk = text[begin:end]
        if not chunk.strip() or _only_comments(chunk):
            continue
        line = text.count("\n", 0, begin)
        col = begin - (text.rfind("\n", 0, begin) + 1)
        padded = "\n" * line + " " * col + chunk
        context.diagnostics = []
        try:
            decls.extend(_run(padded))
            diagnostics.extend(context.diagnostics)
        except DeclarationError as e:
            diagnostics.extend(context.diagnostics)
            diagnostics.append(e.diagnostic)
        except UnexpectedInput as e:
            diagnostics.extend(context.diagnostics)
            diagnostics.append(_syntax_diagnostic(e, padded, file, at_file_end=end == len(text)))
    return decls, diagnostics


def _only_comments(chunk: str) -> bool:
    return all(not line.strip() or line.strip().startswith("#") for line in chunk.splitlines())


def _collect_comments(text: str, file: str) -> None:
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "comment":
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            _comments.append(A.Comment(m.group(), A.Span(file, line, col, line, col + len(m.group()))))


# -------------------------------------------------------------- diagnostics

_FRIENDLY = {
    "IDENT": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "PERCENT": "a percentage",
    "DURATION": "a duration like `5m`",
    "TIME_RANGE": "a time range like `01:00-03:00`",
    "COMP": "a comparison (`==`, `>=`, …)",
    "DOTTED": "a dotted name",
    "$END": "end of file",
}
_BAD_DURATION = re.compile(r"\d+(?:\.\d+)?[A-Za-z_][A-Za-z0-9_]*")


def _describe(name: str) -> str:
    if name in _FRIENDLY:
        return _FRIENDLY[name]
    for term in _parser().terminals:
        if term.name == name and term.pattern.type == "str":
            return f"`{term.pattern.value}`"
    return name.lower()


def _expected(names) -> str:
    words = sorted({_describe(n) for n in names})
    if len(words) > 10:
        keywords = [w for w in words if w.startswith("`")]
        others = [w for w in words if not w.startswith("`")]
        words = others + keywords[: max(0, 10 - len(others))] + ["…"]
    return ", ".join(words)


def _stray_word(e: UnexpectedToken) -> Token | None:
    """A word after a complete declaration that starts nothing (`severity info info`).

    The grammar reads it as the kind of a following block and only fails later; the
    word itself is the mistake, so point there."""
    values = getattr(e, "values", None) or []
    if len(values) >= 2 and not isinstance(values[0], Token) and isinstance(values[1], Token) \
            and values[1].type == "IDENT":
        return values[1]
    return None


_CLAUSE_HINT = ("a clause starts with a keyword: where, on, by, notify, every, for, keep firing for, "
                "escalate to, until, severity, message, label, mute during, disabled")


def _syntax_diagnostic(e: UnexpectedInput, text: str, file: str, at_file_end: bool = True) -> Diagnostic:
    line, column = getattr(e, "line", 1) or 1, getattr(e, "column", 1) or 1
    if isinstance(e, UnexpectedCharacters):
        offset = e.pos_in_stream
        bad = _BAD_DURATION.match(text, offset)
        if bad:
            end = column + len(bad.group())
            return error(A.Span(file, line, column, line, end), "E306",
                         f"invalid duration `{bad.group()}`",
                         "durations are a number and a unit: ms, s, m, h or d (e.g. `10s`, `1h30m`)")
        char = text[offset] if offset < len(text) else ""
        if char == '"':
            return error(A.Span(file, line, column, line, column + 1), "E001",
                         "unterminated string", 'close the string with `"`')
        expected = _expected(e.allowed) if e.allowed else ""
        msg = f"unexpected character `{char}`" + (f"; expected {expected}" if expected else "")
        return error(A.Span(file, line, column, line, column + 1), "E001", msg)
    if isinstance(e, UnexpectedToken):
        tok = e.token
        expected = _expected(e.expected)
        stray = _stray_word(e)
        if stray is not None:
            span = A.Span(file, stray.line, stray.column, stray.end_line, stray.end_column)
            match = _hint_for(str(stray), _CLAUSE_KEYWORDS)
            return error(span, "E001", f"unexpected `{stray}` after a complete declaration",
                         match or _CLAUSE_HINT)
        if tok.type == "$END":
            last = text.rstrip()
            line = last.count("\n") + 1
            column = len(last) - (last.rfind("\n") + 1) + 1
            what = "unexpected end of file" if at_file_end else "incomplete declaration"
            return error(A.Span(file, line, column, line, column), "E001", f"{what}; expected {expected}")
        value = str(tok)
        span = A.Span(file, tok.line, tok.column, tok.end_line or tok.line,
                      tok.end_column or tok.column + len(value))
        shown = value if len(value) <= 40 else value[:37] + "…"
        return error(span, "E001", f"unexpected `{shown}`; expected {expected}",
                     _hint_for(value, e.expected))
    if isinstance(e, UnexpectedEOF):
        return error(A.Span(file, line, column, line, column), "E001",
                     f"unexpected end of file; expected {_expected(e.expected)}")
    return error(A.Span(file, line, column, line, column), "E001", str(e).splitlines()[0])


_CLAUSE_KEYWORDS = frozenset({"WHERE", "ON", "BY", "NOTIFY", "EVERY", "FOR", "KEEP", "ESCALATE", "UNTIL",
                              "SEVERITY", "MESSAGE", "LABEL", "MUTE", "DISABLED"})


def _hint_for(value: str, expected) -> str | None:
    from difflib import get_close_matches

    keywords = []
    for term in _parser().terminals:
        if term.name in expected and term.pattern.type == "str" and term.pattern.value.isalpha():
            keywords.append(term.pattern.value)
    match = get_close_matches(value, keywords, n=1, cutoff=0.6)
    if match:
        return f"did you mean `{match[0]}`?"
    return None
