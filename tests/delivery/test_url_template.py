"""URL templates: printed values are percent-encoded as data, the author's text is not."""

from __future__ import annotations

import pytest

from delivery.templates import Renderer
from delivery.url_template import url_part

CONTEXT = {
    "event": {"data": {"x": "x@evil.example/../y?z#w", "dots": "..", "dot": ".", "host": "evil.example/",
                       "name": "Zoë & Co=1+2;3", "lone": "a\ud800b", "n": 7, "none": None},
              "customer": {"name": "Acme"}},
    "monitor": {"name": "Sync failures"},
    "secrets": {"URL": "https://hooks.slack.com/services/T0/B0/XX", "PATH": "T000/B000/XXXX",
                "BASE": " https://api.example/v2 "},
    "_prismatic": {"FLOW": "a/b?c"},
}


def url(template: str) -> str:
    return Renderer().render(template, CONTEXT, where="url", url=True)


@pytest.mark.parametrize(("template", "expected"), [
    # the report's case: a value that moved the request to /y?z
    ("https://h.example/{{ event.data.x }}", "https://h.example/x%40evil.example%2F..%2Fy%3Fz%23w"),
    ("https://h.example/a/{{ event.data.dots }}/b", "https://h.example/a/%2E%2E/b"),
    ("https://h.example/a/{{ event.data.dot }}/b", "https://h.example/a/%2E/b"),
    ("https://{{ event.data.host }}.hooks.example/", "https://evil.example%2F.hooks.example/"),
    ("https://h.example/q?c={{ event.data.name }}&m={{ monitor.name }}",
     "https://h.example/q?c=Zo%C3%AB%20%26%20Co%3D1%2B2%3B3&m=Sync%20failures"),
    ("https://h.example/#{{ event.data.x }}", "https://h.example/#x%40evil.example%2F..%2Fy%3Fz%23w"),
    ("https://h.example/$FLOW/x", "https://h.example/a%2Fb%3Fc/x"),  # Prismatic variables are values too
    ("https://h.example/{{ event.data.n }}/{{ event.data.none }}/{{ event.missing.deep }}", "https://h.example/7//"),
    ("https://h.example/{{ event.data.lone }}", "https://h.example/a%EF%BF%BDb"),
    ("https://h.example/{{ event.customer.name | lower }}/{{ 'x/y' if event.data.n else '' }}",
     "https://h.example/acme/x%2Fy"),
    # the author's text and the operator's secrets stay as written
    ("{{ secrets.URL }}", "https://hooks.slack.com/services/T0/B0/XX"),
    ("https://hooks.slack.com/services/{{ secrets.PATH }}", "https://hooks.slack.com/services/T000/B000/XXXX"),
    ("{{ secrets.BASE | trim }}/alerts?m={{ monitor.name }}", "https://api.example/v2/alerts?m=Sync%20failures"),
    ("https://h.example/{{ '/v2/' }}x", "https://h.example//v2/x"),
    ("https://h.example/{% if event.data.n > 1 %}many/{% endif %}{% for c in ['a/b', 'c'] %}{{ c }},{% endfor %}",
     "https://h.example/many/a%2Fb,c,"),
    # a `set` block is one value, encoded where it is printed, once
    ("https://h.example/{% set v %}{{ event.data.x }}{% endset %}{{ v }}",
     "https://h.example/x%40evil.example%2F..%2Fy%3Fz%23w"),
])
def test_printed_values_are_encoded_as_one_url_component(template, expected):
    assert url(template) == expected


def test_macro_output_is_never_raw():
    """`{% call %}` outputs what a macro printed without a print of its own."""
    rendered = url("https://h.example/{% macro m() %}{{ caller() }}{% endmacro %}"
                   "{% call m() %}{{ event.data.x }}{% endcall %}")
    assert "/" not in rendered.removeprefix("https://h.example/")
    assert "@" not in rendered and "?" not in rendered and "#" not in rendered


def test_other_templates_are_not_encoded():
    """Only URLs: a message or header with the same text is rendered as it was."""
    assert Renderer().render("{{ event.data.x }}", CONTEXT, where="message") == "x@evil.example/../y?z#w"
    assert url("{{ event.data.x }}") == "x%40evil.example%2F..%2Fy%3Fz%23w"  # the cache keeps both apart
    assert Renderer().render("https://h.example/{{ event.data.x }}", CONTEXT, where="url") == \
        "https://h.example/x@evil.example/../y?z#w"


@pytest.mark.parametrize(("value", "expected"), [
    ("a b", "a%20b"), ("A-z_0.9~", "A-z_0.9~"), ("/?#[]@!$&'()*+,;=:%", "%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%25"),
    ("...", "%2E%2E%2E"), ("a..", "a.."), (None, ""), (1.5, "1.5"), ("é", "%C3%A9"),
])
def test_url_part(value, expected):
    assert url_part(value) == expected
