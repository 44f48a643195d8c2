"""The example rule files in rules/ lint clean and cover what they promise to show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dsl
from dsl import ast as A
from dsl.formatter import format_file

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
FILES = sorted(RULES_DIR.glob("*.rules"))


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return {f.name: f.read_text(encoding="utf-8") for f in FILES}


@pytest.fixture(scope="module")
def loaded(sources):
    return dsl.load(sources)


@pytest.fixture(scope="module")
def monitors(sources) -> list[A.Monitor]:
    found: list[A.Monitor] = []
    for name, text in sources.items():
        rule_file, _ = dsl.parse(text, file=name)
        found.extend(rule_file.monitors)
    return found


def test_there_are_several_example_files():
    assert {"channels.rules", "integrations.rules", "business.rules"} <= {f.name for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_file_parses_without_syntax_errors(path):
    _, diagnostics = dsl.parse(path.read_text(encoding="utf-8"), file=path.name)
    assert diagnostics == [], [d.to_dict() for d in diagnostics]


def test_the_rule_set_lints_clean_without_warnings(loaded):
    ruleset, diagnostics = loaded
    assert [d.to_dict() for d in diagnostics] == []
    assert ruleset is not None


def test_every_group_and_channel_is_defined_once_and_used(loaded, monitors):
    ruleset, _ = loaded
    referenced = set()
    for m in monitors:
        for c in m.clauses:
            if isinstance(c, (A.NotifyClause, A.EscalateClause)):
                referenced |= {(t.kind, t.name.value) for t in c.targets}
            if isinstance(c, A.NotifyClause):
                referenced |= {(v.kind, v.name.value) for v in c.via if v.name is not None}
    for group in ruleset.groups.values():
        referenced |= {(kind, value) for kind, value in group.members if kind not in ("email", "sms")}
    assert {("group", name) for name in ruleset.groups} <= referenced
    assert set(ruleset.channels) <= referenced


def test_channels_are_shared_across_files(sources):
    channels = sources["channels.rules"]
    assert 'group "DevOps"' in channels
    for other in ("integrations.rules", "business.rules"):
        assert 'group "DevOps"' in sources[other] and 'group "DevOps" {' not in sources[other]


PRISMATIC_TRIGGERS = [
    ("execution completed", lambda t: _event(t, "execution.completed")),
    ("execution started", lambda t: _event(t, "execution.started")),
    ("execution failed", lambda t: _event(t, "execution.failed")),
    ("execution failed, retry pending", lambda t: _event(t, "execution.retry_pending")),
    ("execution duration", lambda t: isinstance(t, A.ComparisonTrigger) and t.field.dotted == "execution.duration"),
    ("execution overdue", lambda t: isinstance(t, A.AbsenceTrigger) and t.pattern.dotted == "execution.completed"),
    ("instance enabled", lambda t: _event(t, "instance.enabled")),
    ("instance disabled", lambda t: _event(t, "instance.disabled")),
    ("instance removed", lambda t: _event(t, "instance.removed")),
    ("log level >= warn", lambda t: _log_level(t, "warn")),
    ("log level >= error", lambda t: _log_level(t, "error")),
    ("connection exception", lambda t: _event(t, "connection.error")),
]


def _event(t, pattern: str) -> bool:
    return isinstance(t, A.EventTrigger) and t.pattern.dotted == pattern


def _log_level(t, level: str) -> bool:
    return (isinstance(t, A.ComparisonTrigger) and t.field.dotted == "log.level" and t.op == ">="
            and t.value == A.Path((level,)))


@pytest.mark.parametrize("name, matches", PRISMATIC_TRIGGERS, ids=[n for n, _ in PRISMATIC_TRIGGERS])
def test_every_prismatic_trigger_has_an_example(monitors, name, matches):
    assert any(matches(m.trigger) for m in monitors), name


def _metric_over(monitors, pattern: str) -> list[A.Monitor]:
    def mentions(expr) -> bool:
        if isinstance(expr, A.Aggregate):
            return expr.pattern.dotted == pattern
        return any(mentions(getattr(expr, k)) for k in ("left", "right", "operand") if hasattr(expr, k))

    return [m for m in monitors if isinstance(m.trigger, A.MetricTrigger) and mentions(m.trigger.condition)]


def test_provenance_failed_logins_by_country(monitors):
    (m,) = [m for m in _metric_over(monitors, "customer.login_failed")
            if m.trigger.condition.op == ">" and m.trigger.condition.right == A.Number(100)]
    assert m.trigger.window == A.Duration(300)
    assert m.clause(A.ByClause).fields == (A.Path(("login_location",)),)
    # Metric alerts announce their recovery unless told otherwise.
    assert all(not n.without_resolved for n in m.clauses_of(A.NotifyClause))


def test_provenance_cart_abandonment_to_a_bearer_token_webhook(monitors, loaded):
    ruleset, _ = loaded
    (m,) = _metric_over(monitors, "cart.checkout_abandoned")
    assert m.trigger.window == A.Duration(3600)
    (target,) = m.clause(A.NotifyClause).targets
    channel = ruleset.channels[("webhook", target.name.value)]
    assert ("Authorization", "Bearer {{ secrets.ANALYTICS_TOKEN }}") in channel.headers


def test_provenance_notification_failure_rate_by_email(monitors):
    (m,) = _metric_over(monitors, "notification.failed")
    assert m.trigger.window == A.Duration(3600)
    assert A.Percent(10) in _nodes(m.trigger.condition)
    assert [t.kind for n in m.clauses_of(A.NotifyClause) for t in n.targets] == ["email"]


def _nodes(expr) -> list:
    out = [expr]
    for key in ("left", "right", "operand"):
        if hasattr(expr, key):
            out.extend(_nodes(getattr(expr, key)))
    return out


def test_prismatic_webhook_payloads_use_dollar_variables(loaded):
    ruleset, _ = loaded
    pagerduty = ruleset.channels[("webhook", "PagerDuty")]
    assert pagerduty.payload["payload"]["summary"] == "$NAME triggered - $INSTANCE failed to run."
    assert pagerduty.payload["links"][0]["href"] == "$URL"
    slack = ruleset.channels[("webhook", "Slack DevOps")]
    assert "$URL" in slack.payload["text"]


def test_secrets_only_as_templates(sources):
    for name, text in sources.items():
        rule_file, _ = dsl.parse(text, file=name)
        for value in _strings(rule_file.declarations):
            for secret in re.findall(r"\{\{\s*secrets\.(\w+)\s*\}\}", value):
                assert secret.isupper(), (name, value)
            stripped = re.sub(r"\{\{[^}]*\}\}", "", value)
            # What remains may name a credential ("Bearer", "Token token=") but hold none.
            assert not re.search(r"[A-Za-z0-9_\-]{24,}", stripped), (name, value)


def _strings(node):
    if isinstance(node, A.String):
        yield node.value
    elif isinstance(node, tuple):
        for item in node:
            yield from _strings(item)
    elif hasattr(node, "__dataclass_fields__"):
        for key in node.__dataclass_fields__:
            if not key.endswith("span"):
                yield from _strings(getattr(node, key))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_examples_round_trip_through_the_formatter(path):
    text = path.read_text(encoding="utf-8")
    parsed, _ = dsl.parse(text, file=path.name)
    formatted = format_file(parsed)
    again, diagnostics = dsl.parse(formatted, file=path.name)
    assert diagnostics == []
    assert again == parsed
    assert format_file(again) == formatted
    assert [c.text for c in again.comments] == [c.text for c in parsed.comments]
    assert formatted == text, "run `tocsin fmt rules/`: the examples are kept canonical"


# ----------------------------------------------------- examples in the docs

DOCS = sorted((Path(__file__).resolve().parents[2] / "docs").glob("*.md"))
SNIPPETS = [
    (doc.name, text)
    for doc in DOCS
    for text in re.findall(r"^```rules\n(.*?)^```", doc.read_text(encoding="utf-8"), flags=re.S | re.M)
]


def test_the_reference_has_examples():
    assert len([name for name, _ in SNIPPETS if name == "language.md"]) >= 15


@pytest.mark.parametrize("index", range(len(SNIPPETS)),
                         ids=[f"{name}-{i}" for i, (name, _) in enumerate(SNIPPETS)])
def test_docs_examples_lint_clean(index, sources):
    """Each `rules` block of docs/*.md, with the shared channels and groups it refers to,
    has no error and no warning (the shared file's channels are unused on their own)."""
    _, snippet = SNIPPETS[index]
    _, syntax = dsl.parse(snippet, file="doc.rules")
    assert syntax == [], [d.to_dict() for d in syntax]
    ruleset, diagnostics = dsl.load({"channels.rules": sources["channels.rules"], "doc.rules": snippet})
    problems = [d.to_dict() for d in diagnostics if not (d.code == "W501" and d.span.file == "channels.rules")]
    assert problems == [], snippet
    assert ruleset is not None


def test_docs_examples_are_checked_with_their_templates():
    """The docs check above would pass vacuously if the examples read nothing."""
    reading = [text for _, text in SNIPPETS if "{{ event." in text or "{{ group." in text]
    assert len(reading) >= 2


README = Path(__file__).resolve().parents[2] / "README.md"
# Unlabelled blocks, and rule files the walkthrough writes (`cat > rules/x.rules <<'EOF'`).
README_RULES = [text for block in re.findall(r"^```\n(.*?)^```|^cat > \S+\.rules <<'EOF'\n(.*?)^EOF$",
                                            README.read_text(encoding="utf-8"), flags=re.S | re.M)
                for text in block if "notify" in text]


@pytest.mark.parametrize("index", range(len(README_RULES)))
def test_readme_examples_lint_clean(index, sources):
    """The README's rule blocks: alone when they declare their own group, else with the
    shared channels and groups."""
    snippet = README_RULES[index]
    files = {"readme.rules": snippet}
    if 'group "DevOps" {' not in snippet:
        files["channels.rules"] = sources["channels.rules"]
    ruleset, diagnostics = dsl.load(files)
    problems = [d.to_dict() for d in diagnostics if not (d.code == "W501" and d.span.file == "channels.rules")]
    assert problems == [], snippet
    assert ruleset is not None


def test_the_readme_has_rule_examples():
    assert len(README_RULES) >= 2
