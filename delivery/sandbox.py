"""The Jinja2 sandbox that renders every template: no escapes, bounded work and output.

`ImmutableSandboxedEnvironment` with `StrictUndefined`, tightened further:
- only a short list of side-effect-free methods may be called (`str.lower`, `dict.get`,
  …); `str.format`, `str.replace`, `ljust` and friends are refused;
- every step is cheap, so the deadline, checked between steps, holds inside a single
  expression (`delivery.limits` states the cost model): every operator (`+ - * / // %
  **`), every filter (`delivery.sandbox_filters`), every call and every list, tuple or
  dict a template writes is measured; `**` and `*` on integers are refused before they
  compute a number over `MAX_INT_BITS`;
- `{% for %}` loops, calls and filters count against a per-render budget with a deadline;
  each loop iteration also pays for the literal text of its body;
- every printed expression is measured before it becomes text, and output is cut off
  at the size cap.
A breach raises `RenderLimit`, which `delivery.templates` reports as a `TemplateError`.

Error messages and secrets: an exception that leaves `render()` never carries a secret
or a piece of one. Names and values that Jinja or Python quote in a message (an
undefined attribute, a missing key, the name of a missing secret) are kept only when
they are written literally in the template; anything computed is shown as `…`, and any
run of 4 or more characters of a secret read during the render is replaced.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from delivery import limits
from delivery.errors import SecretMissing
from delivery.limits import MAX_INT_BITS, MAX_LOOP_ITERATIONS, Budget, RenderLimit, budget
from delivery.sandbox_filters import bounded_filters, check_percent
from delivery.secrets import REDACTED

__all__ = ["Sandbox", "RenderLimit", "MAX_LOOP_ITERATIONS", "MAX_INT_BITS", "SAFE_METHODS", "budget"]

SAFE_METHODS = {
    str: frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize", "casefold",
        "swapcase", "startswith", "endswith", "split", "rsplit", "splitlines", "find",
        "rfind", "count", "partition", "rpartition", "removeprefix", "removesuffix",
        "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "isnumeric",
    }),
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
    LoopContext: frozenset({"cycle", "changed"}),
}
SECRET_FRAGMENT = 4  # characters: a run this long of a secret read is redacted from errors
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_ELEMENT = re.compile(r"(has no element )(.+)$")
_SECRET_NAME = re.compile(r"secret (\S+) is not set \(TOCSIN_SECRET_\S+\)")
_TYPE_OBJECT = re.compile(r"[A-Za-z_]+ object")  # Jinja's "'dict object' has no attribute"
_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "dict", "list", "tuple", "NoneType",
                         "Undefined", "ascii", "utf-8", "latin-1"})


class Sandbox(ImmutableSandboxedEnvironment):
    """The tightened environment; `render()` is the only way templates should run."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, cache_size=1000)
        self.globals.pop("lipsum", None)
        self.globals.update(_tocsin_loop=_bounded_iter, _tocsin_value=_made_value,
                            _tocsin_concat=_concat, _tocsin_out=_printed)
        self.filters = bounded_filters(self.filters)

    # -- attribute access -------------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if callable(value):
            return any(isinstance(obj, t) and attr in names for t, names in SAFE_METHODS.items())
        _note_secret(obj, value)
        return True

    def getattr(self, obj: Any, attribute: str) -> Any:
        return _note_secret(obj, super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return _note_secret(obj, super().getitem(obj, argument))

    def wrap_str_format(self, value: Any) -> None:
        # `str.format`/`format_map` take unbounded widths; the `format` filter suffices.
        return None

    # -- calls and operators ----------------------------------------------------------

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        b = budget()
        b.tick()
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, (str, list, tuple)):
                b.size(len(arg), "a call argument")
        if getattr(__obj, "__name__", None) in ("strip", "lstrip", "rstrip") and args:
            b.size(len(str(args[0])), "strip() characters")
        result = super().call(__context, __obj, *args, **kwargs)
        b.check_time()
        return b.value(result, "a call's result")

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        b = budget()
        b.check_time()
        _precheck_binop(b, operator, left, right)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str):
            b.size(len(result), "an expression")
        return b.value(result, "an expression")

    # -- compiling and rendering ------------------------------------------------------

    def bounded_parse(self, source: str) -> nodes.Template:
        """Parse, and route loops, literals, `~` and printed values through the budget."""
        tree = self.parse(source)
        tree = _Bounder().visit(tree)
        tree.tocsin_literals = _literals(tree)  # type: ignore[attr-defined]
        return tree

    def from_string(self, source, globals=None, template_class=None):  # noqa: A002
        template = super().from_string(source, globals, template_class)
        template.tocsin_literals = getattr(source, "tocsin_literals", frozenset())
        return template

    def render(self, template, context: dict[str, Any], *, max_bytes: int, max_seconds: float) -> str:
        """Render a compiled template within the size and time caps."""
        b = Budget(max_bytes, max_seconds)
        limits.start(b)
        try:
            out: list[str] = []
            total = 0
            for chunk in template.generate(context):
                total += len(chunk)
                b.size(total, "the output")
                b.check_time()
                out.append(chunk)
            return "".join(out)
        except RenderLimit:
            raise
        except Exception as exc:
            raise _scrubbed(exc, getattr(template, "tocsin_literals", frozenset()), b) from None
        finally:
            limits.stop()


# -- the AST rewrite ------------------------------------------------------------------

class _Bounder(NodeTransformer):
    """Wraps what can grow without an operator: loops, literals, `~`, printed values."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        cost = sum(len(d.data) for d in _own_data(node.body))
        node.iter = _call("_tocsin_loop", node.iter, nodes.Const(cost), lineno=node.lineno)
        return node

    def _made(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node
        return _call("_tocsin_value", node, lineno=node.lineno)

    visit_List = visit_Dict = visit_Tuple = _made

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _call("_tocsin_concat", *node.nodes, lineno=node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [n if isinstance(n, nodes.TemplateData) else _call("_tocsin_out", n, lineno=n.lineno)
                      for n in node.nodes]
        return node


def _call(name: str, *args: nodes.Expr, lineno: int) -> nodes.Call:
    return nodes.Call(nodes.Name(name, "load"), list(args), [], None, None, lineno=lineno)


def _own_data(body: list[nodes.Node]):
    """The literal text of a loop body, without that of nested loops (they pay their own)."""
    for node in body:
        if isinstance(node, nodes.TemplateData):
            yield node
        elif not isinstance(node, nodes.For):
            yield from _own_data(list(node.iter_child_nodes()))


def _literals(tree: nodes.Template) -> frozenset[str]:
    """Every name, attribute and constant written in the template (safe to quote)."""
    found: set[str] = set()
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Const, nodes.Filter, nodes.Test)):
        if isinstance(node, nodes.Name):
            found.add(node.name)
        elif isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node, nodes.Const):
            found.add(node.value if isinstance(node.value, str) else repr(node.value))
        else:
            found.add(node.name)
    return frozenset(found)


# -- the runtime helpers the rewrite calls --------------------------------------------

def _bounded_iter(iterable: Any, cost: int = 0):
    b = budget()
    for item in iterable:
        b.tick()
        if cost:
            b.produce(cost)
        yield item


def _made_value(value: Any) -> Any:
    b = budget()
    b.check_time()
    return b.value(value, "a list or dict")


def _concat(*parts: Any) -> str:
    b = budget()
    total = 0
    for part in parts:  # measured before any is turned into text
        total += len(part) if isinstance(part, str) else limits.weight(part, b.max_bytes + 1)
        b.size(total, "`~`")
    text = "".join(map(str, parts))
    b.size(len(text), "`~`")
    return text


def _printed(value: Any) -> Any:
    b = budget()
    b.check_time()
    if isinstance(value, str):
        n = len(value)
    else:
        n = limits.weight(value, b.max_bytes + 1) if not isinstance(value, int) else 0
        b.value(value, "a printed value")
    b.size(n, "a printed value")
    b.produce(n)
    return value


def _precheck_binop(b: Budget, operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                if isinstance(seq, str):
                    b.size(len(seq) * max(n, 0), "repetition")
                elif limits.weight(seq, b.max_value) * max(n, 0) > b.max_value:
                    raise RenderLimit(f"repetition would exceed {b.max_value} characters")
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise RenderLimit(f"a product over {MAX_INT_BITS} bits")
    elif operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            if right > MAX_INT_BITS or (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
                raise RenderLimit(f"a power over {MAX_INT_BITS} bits")
        elif isinstance(right, (int, float)) and isinstance(left, (int, float)):
            pass  # float powers overflow quickly (OverflowError) or stay small
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            if isinstance(left, str):
                b.size(len(left) + len(right), "concatenation")
            else:
                b.value(left, "concatenation")
                b.value(right, "concatenation")
                if limits.weight(left, b.max_value) + limits.weight(right, b.max_value) > b.max_value:
                    raise RenderLimit(f"concatenation would exceed {b.max_value} characters")
    elif operator == "%" and isinstance(left, str):
        check_percent(left, b)
        b.value(right, "format arguments")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- secrets and error messages -------------------------------------------------------

def _note_secret(obj: Any, value: Any) -> Any:
    """Remember a secret value read by this render (its errors must not show it)."""
    if isinstance(value, str) and type(obj).__name__ == "SecretsView":
        b = limits.current()
        if b is not None:
            b.secrets_read.add(value)
    return value


def scrub(message: str, literals: frozenset[str], secrets_read: set[str] = frozenset()) -> str:
    """`message` without computed names or values and without pieces of secrets read."""
    def quoted(m: re.Match[str]) -> str:
        inner = m.group(0)[1:-1]
        if inner in literals or inner in _TYPE_NAMES or _TYPE_OBJECT.fullmatch(inner):
            return m.group(0)
        return m.group(0)[0] + "…" + m.group(0)[-1]

    text = _QUOTED.sub(quoted, message)
    text = _ELEMENT.sub(lambda m: m.group(1) + (m.group(2) if m.group(2) in literals else "…"), text)
    text = _SECRET_NAME.sub(
        lambda m: m.group(0) if m.group(1) in literals else "secret (a computed name) is not set", text)
    for secret in secrets_read:
        text = _redact_fragments(text, secret)
    return text


def _redact_fragments(text: str, secret: str) -> str:
    """Replace every run of `SECRET_FRAGMENT`+ characters of `secret` found in `text`."""
    n = min(SECRET_FRAGMENT, len(secret))
    if n == 0:
        return text
    grams = {secret[i:i + n] for i in range(len(secret) - n + 1)}
    hit = [False] * len(text)
    for i in range(len(text) - n + 1):
        if text[i:i + n] in grams:
            for j in range(i, i + n):
                hit[j] = True
    if not any(hit):
        return text
    out, i = [], 0
    while i < len(text):
        if hit[i]:
            while i < len(text) and hit[i]:
                i += 1
            out.append(REDACTED)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _scrubbed(exc: Exception, literals: frozenset[str], b: Budget) -> Exception:
    """`exc`, or an exception of the same kind whose message passed `scrub()`."""
    message = str(exc.args[0]) if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    clean = scrub(message, literals, b.secrets_read)
    if isinstance(exc, KeyError):  # str(KeyError) quotes its key
        key = exc.args[0] if exc.args else ""
        return KeyError(key if isinstance(key, str) and key in literals else "…")
    if clean == message and str(exc) == message:
        return exc
    try:
        new = type(exc)(clean)
        if str(new) == clean:
            return new
    except Exception:  # an exception class with other arguments (UnicodeEncodeError, …)
        pass
    if isinstance(exc, SecretMissing):
        return SecretMissing(clean)
    return ExpressionError(f"{type(exc).__name__}: {clean}")


class ExpressionError(Exception):
    """An exception from a template's expression, its message scrubbed."""
