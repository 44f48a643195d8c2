"""URL templates: every value printed into a URL is percent-encoded as data.

    tree = quote_printed_values(sandbox.bounded_parse(source))   # Renderer(url=True)

A channel's `url` is written by the rule author and filled in with values at send time
(`https://hooks.example/{{ event.customer.name }}`). A value must never change the
URL's structure: `x@evil.example/../y?z#w` printed raw moved the request to `/y?z`. So
in a URL template each printed expression (`{{ … }}` and `$VARIABLE`) is encoded as one
URL component (as JavaScript's `encodeURIComponent`): its text as UTF-8, every byte
outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`) as `%XX`, and a value made
only of dots (`.`, `..`: a dot-segment that would climb the path) as `%2E`s. One rule
serves every component: a value in a path segment, a query name or value or the
fragment must not supply any delimiter (`/ ? # & = + ; : @`), and percent-encoding is
how each of them spells data (RFC 3986 § 2.1, § 2.4).

What stays as written:
- the template's literal text, and what `{% if %}`/`{% for %}` choose among it: the
  rule author wrote it;
- an expression that reads no variable but `secrets` (`{{ secrets.SLACK_URL }}`,
  `{{ secrets.BASE | trim }}`): a secret is the operator's configuration, often a whole
  URL or a path with slashes (Slack's `T000/B000/XXXX`), so it is used as given;
  percent-encode a secret yourself where it must be data inside a URL;
- an expression of constants only (`{{ "/v2" }}`).
A `{% set x %}…{% endset %}` block is encoded once, where `{{ x }}` prints it (its body
is left alone: it can only reach the URL through such a print). What a macro prints is
encoded inside the macro, since `{% call %}` outputs it without a print, and once more
by `{{ macro() }}`: print values directly rather than through macros.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jinja2 import nodes
from jinja2.runtime import Undefined
from jinja2.visitor import NodeTransformer

URL_PART = "_tocsin_url_part"  # the template global that encodes one printed value
TRUSTED_NAMES = frozenset({"secrets"})
# The sandbox's own helpers (`delivery.sandbox`), wrapped around expressions it rewrites.
_HELPERS = frozenset({"_tocsin_out", "_tocsin_value", "_tocsin_concat", "_tocsin_loop", URL_PART})


def url_part(value: Any) -> str:
    """A printed value as one percent-encoded URL component (`None`/undefined -> "")."""
    if value is None or isinstance(value, Undefined):
        return ""
    text = str(value)
    if text and text.strip(".") == "":
        return "%2E" * len(text)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800") goes out as U+FFFD
        data = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")
    return quote(data, safe="")


def reads_data(expr: nodes.Node) -> bool:
    """Does `expr` read any variable other than `secrets`?"""
    return any(n.name not in TRUSTED_NAMES and n.name not in _HELPERS
               for n in expr.find_all(nodes.Name))


class _QuotePrinted(NodeTransformer):
    """Wraps every printed expression that reads data in `_tocsin_url_part(…)`."""

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        return node  # a value, encoded where it is printed

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [n if isinstance(n, nodes.TemplateData) or not reads_data(n)
                      else nodes.Call(nodes.Name(URL_PART, "load"), [n], [], None, None, lineno=n.lineno)
                      for n in node.nodes]
        return node


def quote_printed_values(tree: nodes.Template) -> nodes.Template:
    """The parsed template with its printed data values encoded (in place; the same tree)."""
    _QuotePrinted().visit(tree)
    return tree
