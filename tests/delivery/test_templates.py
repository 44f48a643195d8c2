"""Template rendering: lenient undefined values, `default`, Prismatic $VARS, JSON leaves,
and the sandbox."""

from __future__ import annotations

import json

import pytest

from delivery.context import build_context
from delivery.errors import SecretMissing, TemplateError
from delivery.secrets import Secrets
from delivery.templates import Renderer, substitute_prismatic
from tests.delivery.support import WebhookChannel, one_request


@pytest.fixture
def context():
    request = one_request(WebhookChannel("ops", url="http://x"))
    return build_context(request, Secrets({"TOKEN": "s3cr3t"}))


@pytest.fixture
def renderer():
    return Renderer(max_bytes=4096, max_seconds=0.5)


def test_context_paths_and_filters(renderer, context):
    text = "{{ monitor.name | upper }} {{ alert.status }} {{ event.flow }} {{ monitor.labels.team }}"
    assert renderer.render(text, context, where="t") == "SYNC FAILURES firing Sync core"


def test_an_undefined_path_renders_empty_at_any_depth(renderer, context):
    assert renderer.render("[{{ alert.nme }}]", context, where="t") == "[]"
    assert renderer.render("[{{ nothing }}]", context, where="t") == "[]"
    assert renderer.render("[{{ event.connection.name.first }}]", context, where="t") == "[]"
    assert renderer.render("[{% for m in event.nope %}x{% endfor %}]", context, where="t") == "[]"
    assert renderer.render("{{ 'y' if event.nope else 'n' }}", context, where="t") == "n"


def test_null_renders_empty_not_none(renderer, context):
    assert renderer.render("[{{ alert.threshold }}]", context, where="t") == "[]"


def test_an_undefined_value_in_arithmetic_is_an_error_without_quoting_it(renderer, context):
    with pytest.raises(TemplateError, match="undefined value") as info:
        renderer.render("{{ {}[secrets.TOKEN[1:]] + 1 }}", context, where="t")
    assert "3cr3t" not in str(info.value)


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ event.connection | default('-') }}", "-"),      # undefined
    ("{{ alert.threshold | default('-') }}", "-"),       # null
    ("{{ event.blank | default('-') }}", "-"),           # empty string
    ("{{ alert.count | default('-') }}", "2"),           # a value
    ("{{ event.zero | default('-') }}", "0"),            # 0 is a value
    ("{{ event.zero | default('-', true) }}", "-"),      # Jinja's boolean mode kept
    ("{{ event.nope.deeper | d('-') }}", "-"),
])
def test_default_applies_to_undefined_null_and_empty(renderer, context, source, expected):
    context = {**context, "event": {**context["event"], "blank": "", "zero": 0}}
    assert renderer.render(source, context, where="t") == expected


def test_the_key_prints_as_people_write_it(renderer, context):
    assert renderer.render("{{ alert.key }}", context, where="t") == "instance=SW5zdGFuY2U6OTk, flow=Sync"
    assert renderer.render("{{ alert.key.flow }}", context, where="t") == "Sync"
    assert json.loads(renderer.render("{{ alert.key | tojson }}", context, where="t")) == {
        "instance": "SW5zdGFuY2U6OTk", "flow": "Sync"}


def test_secret_resolves_and_missing_secret_is_named(renderer, context):
    assert renderer.render("{{ secrets.TOKEN }}", context, where="t") == "s3cr3t"
    with pytest.raises(SecretMissing, match="TOCSIN_SECRET_NOPE"):
        renderer.render("{{ secrets.NOPE }}", context, where="t")


def test_prismatic_variables(renderer, context):
    text = "$SUBJECT|$NAME|$INSTANCE|$INSTANCE_ID|$EXECUTION_ID|$CUSTOMER|$CUSTOMER_EXTERNAL_ID|$FLOW|$TRIGGER|$STEP|$URL"
    assert renderer.render(text, context, where="t").split("|") == [
        "Sync failures Alert", "Sync failures", "Acme Salesforce Sync", "SW5zdGFuY2U6OTk",
        "RXhlYzox", "Acme", "acme-42", "Sync", "Sync failures", "Fetch orders",
        "http://tocsin.test/alerts/al-123",
    ]
    assert renderer.render("costs $5 and $OTHER", context, where="t") == "costs $5 and $OTHER"


def test_prismatic_longest_name_wins():
    assert substitute_prismatic("$INSTANCE_ID") == "{{ _prismatic.INSTANCE_ID }}"


def test_json_leaves_keep_structure_and_types(renderer, context):
    value = {"a": ["{{ event.message }}", 1, 2.5, None, False], "b": {"c": "$FLOW"}}
    out = renderer.render_json(value, context, where="payload")
    assert json.loads(json.dumps(out)) == {
        "a": ['HTTP 503 from "Salesforce"\n<b>', 1, 2.5, None, False], "b": {"c": "Sync"}}


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ event.__class__.__init__.__globals__ }}",
    "{{ monitor.items.__self__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ ''['__class__'] }}",
    "{{ '{0.__class__}'.format(monitor) }}",
    "{{ '{0}'.format(1) }}",
    "{{ lipsum(1000000) }}",
    "{{ 'x' * 100000000 }}",
    "{{ 7 ** 100000000 }}",
    "{{ 'x'.ljust(100000000) }}",
    "{{ 'x' | center(100000000) }}",
    "{{ 'x' | replace('', 'y' * 4000) | replace('', 'z' * 4000) }}",
    "{{ '%100000000s' % 'x' }}",
    "{{ '%*s' | format(100000000, 'x') }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}xxxxxxxxxx{% endfor %}",
    "{{ {}.update(a=1) }}",
    "{{ [].append(1) }}",
    "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('ab') }}",
])
def test_sandbox_refuses_escapes_and_unbounded_work(renderer, context, source):
    with pytest.raises(TemplateError):
        renderer.render(source, context, where="t")


def test_render_time_is_capped(context):
    slow = Renderer(max_bytes=10**6, max_seconds=0.05)
    with pytest.raises(TemplateError, match="too long|more than"):
        slow.render("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
                    context, where="t")

