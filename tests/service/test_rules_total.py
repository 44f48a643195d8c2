"""Every endpoint that takes rule text answers diagnostics or a 4xx, never a 500, for
the inputs that once broke the language front end (deep nesting, huge numbers and
durations, lone surrogates, over-long files), and a long operator chain is a rule
like any other."""

from __future__ import annotations

import json

import pytest

from dsl.limits import MAX_TEXT_CHARS

HOOK = 'webhook "hook" { url "https://hooks.example.com/x" }\n'
NOTIFY = ' notify webhook "hook"'
WHERE = "when execution.failed where "

# (name, rule text, the error code it must get)
BAD = [
    ("not", WHERE + "not " * 1000 + "flow == \"x\"" + NOTIFY, "E003"),
    ("parentheses", WHERE + "(" * 1000 + "flow == \"x\"" + ")" * 1000 + NOTIFY, "E003"),
    ("lists", WHERE + "flow in " + "[" * 1000 + "]" * 1000 + NOTIFY, "E003"),
    ("json", 'webhook "deep" { url "https://x.io" payload ' + '{"a": ' * 1000 + "1" + "}" * 1000 + " }\n", "E003"),
    ("digits", WHERE + "execution.attempt > " + "9" * 5000 + NOTIFY, "E004"),
    ("inf", WHERE + "execution.attempt > 1e999" + NOTIFY, "E004"),
    ("duration", "when execution.failed every " + "9" * 400 + "d" + NOTIFY, "E005"),
    ("escaped surrogate in a name", 'monitor "\\uD800" when execution.failed' + NOTIFY, "E002"),
    ("escaped surrogate in a regex", WHERE + 'message matches "\\uDFFF"' + NOTIFY, "E002"),
    ("raw surrogate", 'monitor "a\ud800" when execution.failed' + NOTIFY, "E001"),
    ("too large", "#" * (MAX_TEXT_CHARS + 1), "E006"),
]
CHAIN = 'monitor "chain" ' + WHERE + " or ".join(f'flow == "f{i}"' for i in range(20_000)) + NOTIFY + "\n"


def _json(body: dict) -> dict:
    """Request arguments for a JSON body written with \\u escapes (lone surrogates too)."""
    return {"content": json.dumps(body).encode("ascii"), "headers": {"content-type": "application/json"}}


def _codes(diagnostics: list[dict]) -> set[str]:
    return {d["code"] for d in diagnostics if d["severity"] == "error"}


# What the service refuses before the language sees it: also an answer, not a 500.
REFUSED = {"raw surrogate": 400,  # its JSON reader refuses a lone surrogate
           "too large": 413}      # its body limit is below the language's file limit


def _refused(name: str, r) -> bool:
    return r.status_code == REFUSED.get(name)


@pytest.fixture
def rules_dir(config):
    from pathlib import Path

    d = Path(config.rules_dir)
    (d / "hooks.rules").write_text(HOOK)
    return d


async def test_lint_and_validate_answer_diagnostics(rules_dir, client):
    for name, text, code in BAD:
        for path in ("/v1/rules/lint", "/v1/rules/validate"):
            r = await client.post(path, **_json({"files": {"bad.rules": text}}))
            if _refused(name, r):
                continue
            assert r.status_code == 200, (name, path, r.status_code, r.text[:300])
            body = r.json()
            assert body["ok"] is False and code in _codes(body["diagnostics"]), (name, path, body)


async def test_put_answers_422_and_changes_nothing(rules_dir, client):
    for name, text, code in BAD:
        if "\ud800" in text:
            continue  # no UTF-8 body can carry a lone surrogate (JSON ones: test above)
        r = await client.put("/v1/rules/bad.rules", content=text.encode("utf-8"))
        if _refused(name, r):
            continue
        assert r.status_code == 422, (name, r.status_code, r.text[:300])
        assert code in _codes(r.json()["errors"]), (name, r.json())
    assert (await client.get("/v1/rules/bad.rules")).status_code == 404


async def test_dry_run_answers_diagnostics(rules_dir, client):
    for name, text, code in BAD:
        r = await client.post("/v1/test", **_json({"files": {"hooks.rules": HOOK, "bad.rules": text}, "events": []}))
        if _refused(name, r):
            continue
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
        body = r.json()
        assert body["ok"] is False and code in _codes(body["diagnostics"]), (name, body)


async def test_reload_of_a_bad_file_reports_it(rules_dir, client):
    for name, text, code in BAD:
        if "\ud800" in text:
            continue  # a file on disk is UTF-8
        (rules_dir / "bad.rules").write_text(text, encoding="utf-8")
        r = await client.post("/v1/rules/reload")
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
        body = r.json()
        assert body["ok"] is False and code in _codes(body["last_reload"]["diagnostics"]), (name, body)


async def test_a_long_chain_is_a_rule_like_any_other(rules_dir, client):
    r = await client.post("/v1/rules/validate", **_json({"files": {"chain.rules": CHAIN}}))
    assert r.status_code == 200 and r.json()["ok"] is True, r.text[:300]
    r = await client.put("/v1/rules/chain.rules", content=CHAIN.encode("utf-8"))
    assert r.status_code == 200, r.text[:300]
    event = {"id": "e1", "type": "execution.failed", "time": "2026-01-01T00:00:00Z", "flow": "f19999",
             "instance": {"id": "i1", "name": "I"}}
    r = await client.post("/v1/test", **_json({"files": {"hooks.rules": HOOK, "chain.rules": CHAIN},
                                                "events": [event]}))
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["ok"] is True and [a["monitor"] for a in body["alert_events"]] == ["chain"], body
