"""The OpenAPI document is generated from the routes: every route is in it, every JSON
success answer has a schema, and real answers validate against those schemas."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest

from dsl.literals import DURATION_PATTERN
from service.app import create_app
from service.openapi import build, openapi_path
from tests.service.conftest import make_config
from tests.service.server import running
from tests.support.waiting import evaluated

RULES = ('webhook "hook" { url "http://127.0.0.1:9/hook" }\n'
         'monitor "f" when execution.failed notify webhook "hook"\n')


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from service.config import Config

    return build(create_app(Config(_env_file=None)), "http://127.0.0.1:8080")


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_every_route_of_the_app_is_in_the_document_with_its_methods(document: dict[str, Any]) -> None:
    from service.config import Config

    app = create_app(Config(_env_file=None))
    routes = {(openapi_path(r.path), m.lower()) for r in app.router.routes for m in r.methods}
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert routes == documented
    assert len(routes) >= 29


def test_every_json_success_answer_has_a_schema_that_says_something(document: dict[str, Any]) -> None:
    bare = []
    for path, method, op in _operations(document):
        for status, answer in op["responses"].items():
            if not status.startswith("2"):
                continue
            for media, content in answer.get("content", {}).items():
                schema = _resolve(document, content["schema"])
                assert schema, (path, method, status)
                if "json" in media and not ({"properties", "items", "anyOf", "oneOf"} & set(schema)):
                    bare.append(f"{method.upper()} {path} {status}")
    assert bare == []


def test_every_problem_answer_is_problem_json(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                assert list(answer["content"]) == ["application/problem+json"], (path, method, status)
                assert answer["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize("action", ["acknowledge", "clear"])
def test_acknowledge_and_clear_state_all_their_answers(document: dict[str, Any], action: str) -> None:
    op = document["paths"][f"/v1/alerts/{{id}}/{action}"]["post"]
    assert set(op["responses"]) == {"200", "202", "400", "401", "403", "404", "409", "413", "415", "422"}
    assert op["requestBody"]["required"] is False
    by = _resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
    assert set(by["properties"]) == {"by", "comment"} and by["additionalProperties"] is False


def test_public_routes_need_no_key_and_others_answer_401(document: dict[str, Any]) -> None:
    health = document["paths"]["/healthz"]["get"]
    assert health["security"] == [] and "401" not in health["responses"]
    assert "401" in document["paths"]["/v1/events"]["post"]["responses"]


def test_durations_in_the_document_are_the_languages(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/v1/alerts/{id}/context"]["get"]["parameters"]}
    assert params["before"]["schema"]["pattern"] == f"^{DURATION_PATTERN}$"
    silence = document["components"]["schemas"]["SilenceIn"]
    assert silence["properties"]["duration"]["pattern"] == f"^{DURATION_PATTERN}$"


def _validator(document: dict[str, Any], path: str, method: str, status: int):
    pointer = quote(path.replace("~", "~0").replace("/", "~1"), safe="~")
    answer = f"#/paths/{pointer}/{method}/responses/{status}/content/application~1json/schema"
    return jsonschema_rs.Draft202012Validator({**document, "$ref": answer})


async def test_real_answers_validate_against_their_schemas(mongo_uri, tmp_path) -> None:
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(RULES)
    app = create_app(config)
    async with running(app) as client:
        document = (await client.get("/openapi.json")).json()
        answers: list[tuple[str, str, int, Any]] = []

        async def call(method: str, url: str, template: str, status: int, **kwargs: Any) -> Any:
            r = await client.request(method, url, **kwargs)
            assert r.status_code == status, (url, r.text)
            answers.append((template, method.lower(), status, r.json()))
            return r.json()

        await call("POST", "/v1/events", "/v1/events", 202,
                   json={"id": "e1", "type": "execution.failed", "instance": {"id": "i1"}})
        await evaluated(app)
        page = await call("GET", "/v1/alerts", "/v1/alerts", 200)
        alert_id = page["items"][0]["id"]
        await call("GET", f"/v1/alerts/{alert_id}", "/v1/alerts/{id}", 200)
        await call("GET", f"/v1/alerts/{alert_id}/context", "/v1/alerts/{id}/context", 200)
        await call("GET", "/v1/monitors", "/v1/monitors", 200)
        await call("GET", "/v1/rules", "/v1/rules", 200)
        await call("POST", "/v1/rules/lint", "/v1/rules/lint", 200, json={"files": {"a.rules": "monitor x"}})
        await call("POST", "/v1/rules/validate", "/v1/rules/validate", 200, json={"files": {"b.rules": RULES}})
        await call("POST", "/v1/rules/reload", "/v1/rules/reload", 200)
        await call("PUT", "/v1/rules/extra.rules", "/v1/rules/{name}", 200,
                   content=b'monitor "g" when execution.retry_pending notify webhook "hook"\n')
        await call("DELETE", "/v1/rules/extra.rules", "/v1/rules/{name}", 200)
        await call("POST", "/v1/silences", "/v1/silences", 201, json={"matchers": {"monitor": "f"}, "duration": "1h"})
        await call("GET", "/v1/silences", "/v1/silences", 200)
        await call("GET", "/healthz", "/healthz", 200)
        await call("GET", "/readyz", "/readyz", 200)
        await call("GET", "/v1/cluster", "/v1/cluster", 200)
        await call("POST", f"/v1/alerts/{alert_id}/acknowledge", "/v1/alerts/{id}/acknowledge", 200,
                   json={"by": "ana", "comment": "looking"})
        await call("POST", f"/v1/alerts/{alert_id}/clear", "/v1/alerts/{id}/clear", 200)
        problem = await client.post(f"/v1/alerts/{alert_id}/clear", content=b"by=ana",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert problem.status_code == 415
        unknown = await client.post(f"/v1/alerts/{alert_id}/acknowledge", json={"who": "ana", "by": 3})
        assert unknown.status_code == 422
        assert unknown.json()["errors"] == [{"index": 0, "path": "/by", "message": "must be a string"},
                                            {"index": 0, "path": "/who", "message": "unknown field"}]
        bad_files = await client.post("/v1/rules/lint", json={"files": {"a/b.rules": 1}, "extra": True})
        assert bad_files.status_code == 422 and [e["path"] for e in bad_files.json()["errors"]] == [
            "/files/a~1b.rules", "/extra"]
        listed = await client.post(f"/v1/alerts/{alert_id}/clear", json=["ana"])
        assert listed.status_code == 422 and listed.json()["errors"][0]["message"] == "not an object"
    for template, method, status, body in answers:
        _validator(document, template, method, status).validate(body)
    problem_schema = jsonschema_rs.Draft202012Validator({**document, "$ref": "#/components/schemas/Problem"})
    problem_schema.validate(problem.json())
    problem_schema.validate(unknown.json())
