"""Rule endpoints: lint, validate, read, change, reload; all-or-nothing reloads."""

from __future__ import annotations

import pytest

GOOD = 'monitor "failures" when execution.failed notify webhook "hook"\n'
HOOK = 'webhook "hook" { url "https://hooks.example.com/x" }\n'
BROKEN = 'monitor "oops" when execution.failed notify group "Nobody"\n'


@pytest.fixture
def rules_dir(config):
    from pathlib import Path

    d = Path(config.rules_dir)
    (d / "hooks.rules").write_text(HOOK)
    (d / "main.rules").write_text(GOOD)
    return d


async def test_lint_reports_every_problem_and_resolves_across_files(client):
    r = await client.post("/v1/rules/lint", json={"files": {"a.rules": GOOD, "b.rules": HOOK}})
    assert r.status_code == 200
    assert r.json()["ok"] is True
    r = await client.post("/v1/rules/lint", json={"files": {"a.rules": GOOD + "monitor when\n"}})
    body = r.json()
    assert r.status_code == 200 and body["ok"] is False
    keys = {"file", "line", "column", "end_line", "end_column", "severity", "code", "message", "hint"}
    assert body["diagnostics"] and all(set(d) == keys for d in body["diagnostics"])


async def test_lint_takes_plain_text(client):
    r = await client.post("/v1/rules/lint", content=BROKEN, headers={"content-type": "text/plain"})
    body = r.json()
    assert body["ok"] is False
    assert body["diagnostics"][0]["file"] == "input.rules"
    assert body["diagnostics"][0]["code"] == "E101"


async def test_lint_rejects_a_bad_body(client):
    r = await client.post("/v1/rules/lint", json={"files": ["x"]})
    assert r.status_code == 422
    r = await client.post("/v1/rules/lint", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


async def test_validate_resolves_against_the_active_set(rules_dir, client):
    r = await client.post("/v1/rules/validate", json={"files": {"extra.rules": 'monitor "m2" when execution.started notify webhook "hook"\n'}})
    body = r.json()
    assert body["ok"] is True, body
    names = {m["name"]: m for m in body["monitors"]}
    assert names["m2"] == {"name": "m2", "trigger": "execution.started", "file": "extra.rules", "line": 1}
    assert "failures" in names
    r = await client.post("/v1/rules/validate", json={"files": {"hooks.rules": ""}})
    assert r.json()["ok"] is False  # main.rules now refers to a webhook that is gone


async def test_get_rules_lists_files_and_last_reload(rules_dir, client):
    r = await client.get("/v1/rules")
    body = r.json()
    assert body["version"] == 1
    assert [f["name"] for f in body["files"]] == ["hooks.rules", "main.rules"]
    assert body["files"][1]["monitors"] == 1 and len(body["files"][1]["sha256"]) == 64
    assert body["last_reload"]["ok"] is True
    assert (await client.get("/v1/rules/main.rules")).text == GOOD
    assert (await client.get("/v1/rules/none.rules")).status_code == 404


async def test_put_valid_file_makes_a_new_version_and_writes_through(rules_dir, client):
    r = await client.put("/v1/rules/more.rules", content='monitor "m3" when execution.completed notify webhook "hook"\n')
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert (rules_dir / "more.rules").exists()
    monitors = (await client.get("/v1/monitors")).json()["items"]
    assert {m["name"] for m in monitors} == {"failures", "m3"}


async def test_put_invalid_file_is_422_and_changes_nothing(rules_dir, client):
    r = await client.put("/v1/rules/main.rules", content=BROKEN)
    assert r.status_code == 422
    assert "E101" in {d["code"] for d in r.json()["errors"]}
    assert (await client.get("/v1/rules")).json()["version"] == 1
    assert (rules_dir / "main.rules").read_text() == GOOD


async def test_delete_file(rules_dir, client):
    assert (await client.delete("/v1/rules/hooks.rules")).status_code == 422  # still referenced
    assert (await client.delete("/v1/rules/main.rules")).status_code == 200
    assert not (rules_dir / "main.rules").exists()
    assert (await client.delete("/v1/rules/main.rules")).status_code == 404


async def test_reload_with_a_broken_file_keeps_the_previous_set(rules_dir, client):
    (rules_dir / "main.rules").write_text(BROKEN)
    r = await client.post("/v1/rules/reload")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False and body["version"] == 1
    assert body["last_reload"]["ok"] is False
    assert any(d["code"] == "E101" for d in body["last_reload"]["diagnostics"])
    assert (await client.get("/v1/rules/main.rules")).text == GOOD
    (rules_dir / "main.rules").write_text(GOOD.replace("failures", "failed-runs"))
    body = (await client.post("/v1/rules/reload")).json()
    assert body["ok"] is True and body["version"] == 2


SECRET_HOOK = 'webhook "hook" { url "https://hooks.example.com/{{ secrets.TOCSIN_TEST_HOOK_PATH }}" }\n'


async def test_validate_warns_of_a_secret_this_service_does_not_have(rules_dir, client, monkeypatch):
    monkeypatch.delenv("TOCSIN_SECRET_TOCSIN_TEST_HOOK_PATH", raising=False)
    monkeypatch.delenv("TOCSIN_SECRETS_FILE", raising=False)
    r = await client.post("/v1/rules/validate", json={"files": {"hooks.rules": SECRET_HOOK}})
    body = r.json()
    assert body["ok"] is True  # a warning: the rules are valid, the environment is not ready
    (w,) = [d for d in body["diagnostics"] if d["code"] == "W505"]
    assert (w["file"], w["line"], w["column"], w["severity"]) == ("hooks.rules", 1, 52, "warning")
    assert "TOCSIN_TEST_HOOK_PATH" in w["message"]
    monkeypatch.setenv("TOCSIN_SECRET_TOCSIN_TEST_HOOK_PATH", "x")
    body = (await client.post("/v1/rules/validate", json={"files": {"hooks.rules": SECRET_HOOK}})).json()
    assert [d for d in body["diagnostics"] if d["code"] == "W505"] == []


async def test_lint_does_not_depend_on_the_environment(client, monkeypatch):
    monkeypatch.delenv("TOCSIN_SECRET_TOCSIN_TEST_HOOK_PATH", raising=False)
    r = await client.post("/v1/rules/lint", json={"files": {"a.rules": GOOD, "b.rules": SECRET_HOOK}})
    assert r.json() == {"ok": True, "diagnostics": []}


async def test_a_reload_logs_each_secret_that_is_not_set(rules_dir, client, monkeypatch, caplog):
    monkeypatch.delenv("TOCSIN_SECRET_TOCSIN_TEST_HOOK_PATH", raising=False)
    monkeypatch.delenv("TOCSIN_SECRETS_FILE", raising=False)
    (rules_dir / "hooks.rules").write_text(SECRET_HOOK)
    with caplog.at_level("WARNING", logger="tocsin.service"):
        body = (await client.post("/v1/rules/reload")).json()
    assert body["ok"] is True and body["version"] == 2
    assert [d["code"] for d in body["last_reload"]["diagnostics"]] == ["W505"]
    logged = [r.getMessage() for r in caplog.records if "W505" in r.getMessage() or "TOCSIN_TEST_HOOK_PATH" in r.getMessage()]
    assert logged == ["hooks.rules:1:52: secret `TOCSIN_TEST_HOOK_PATH` is not set where the service runs: "
                      "a template using it falls back to the standard text, a URL or routing key fails "
                      "the delivery"]


async def test_a_file_that_is_not_utf8_is_refused_at_the_bad_byte(rules_dir, client):
    (rules_dir / "main.rules").write_bytes(GOOD.encode() + b"# caf\xe9 au lait\n")
    body = (await client.post("/v1/rules/reload")).json()
    assert body["ok"] is False and body["version"] == 1
    (bad,) = [d for d in body["last_reload"]["diagnostics"] if d["severity"] == "error"]
    assert (bad["file"], bad["line"], bad["column"]) == ("main.rules", 2, 6)
    assert (await client.get("/v1/rules/main.rules")).text == GOOD


async def test_a_reload_that_fails_inside_the_front_end_keeps_the_set_and_says_so(rules_dir, client, monkeypatch):
    """Defence in depth: even a bug in the language front end leaves the active set and
    records `ok: false` (it once raised, and `last_reload` stayed `ok: true`)."""
    import dsl

    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    (rules_dir / "main.rules").write_text(GOOD.replace("failures", "changed"))
    monkeypatch.setattr(dsl, "load", broken)
    r = await client.post("/v1/rules/reload")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False and body["version"] == 1
    assert body["last_reload"]["ok"] is False and "RecursionError" in body["last_reload"]["error"]
    assert (await client.get("/v1/rules/main.rules")).text == GOOD
