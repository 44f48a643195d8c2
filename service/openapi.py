"""The OpenAPI 3.1 document served at `/openapi.json` (and rendered at `/docs`), generated.

Every route of the app declares its operation with `service.api_doc.documented` (summary,
request bodies, success answers, the problems it answers); the schemas are the JSON
Schema of the pydantic models named there (service/api_models.py, the event model,
the silence request). Nothing here lists routes: a route without a declaration is left
out and tests/service/test_openapi_generated.py fails.
"""

from __future__ import annotations

import re
from http import HTTPStatus

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sanic import Sanic

from service.api_doc import JSON, Media, Operation, Param, Schema, Shape, operation_of
from service.api_models import Problem

Refs = dict[tuple[type[BaseModel], str], Schema]  # (model, mode) -> its schema or `$ref`
PROBLEM_JSON = "application/problem+json"
REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?::[^>]*)?>")
# Answered for every route by the app rather than the route (auth, body size limit).
KEY_PROBLEMS = (401, 403)
BODY_PROBLEMS = (413,)


def _models(operations: list[Operation]) -> tuple[list[type[BaseModel]], list[type[BaseModel]]]:
    """The models of request bodies and of answers, each once."""
    inputs: dict[type[BaseModel], None] = {}
    outputs: dict[type[BaseModel], None] = {Problem: None}
    for op in operations:
        inputs.update((s, None) for s in op.body.values() if isinstance(s, type))
        outputs.update((s, None) for s in op.ok.values() if isinstance(s, type))
    return list(inputs), list(outputs)


def _schemas(inputs: list[type[BaseModel]], outputs: list[type[BaseModel]]
             ) -> tuple[Refs, Schema]:
    for model in (*inputs, *outputs):
        model.model_rebuild()  # complete models whose annotations named later classes
    keyed = [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs]
    refs, defs = models_json_schema(keyed, ref_template=REF, by_alias=True)  # type: ignore[arg-type]
    return refs, defs.get("$defs", {})


def _schema_of(shape: Shape, mode: str, refs: Refs) -> Schema:
    if isinstance(shape, type):
        return refs[(shape, mode)]
    if isinstance(shape, Media):
        return shape.schema
    return shape  # a JSON Schema written out (a batch of models)


def _content(shape: Shape, mode: str, refs: Refs) -> Schema:
    media = shape.media_type if isinstance(shape, Media) else JSON
    return {media: {"schema": _schema_of(shape, mode, refs)}}


def _parameters(path: str, op: Operation) -> list[Schema]:
    params: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": op.path.get(name, {"type": "string"})}
        for name in re.findall(r"{([^}]+)}", path)]
    params += [_query(p) for p in op.query]
    return params


def _query(p: Param) -> Schema:
    out: Schema = {"name": p.name, "in": "query", "required": p.required, "schema": p.schema}
    if p.description:
        out["description"] = p.description
    return out


def _operation(path: str, op: Operation, refs: Refs) -> Schema:
    responses: Schema = {}
    for status, shape in sorted(op.ok.items()):
        answer: Schema = {"description": HTTPStatus(status).phrase}
        if shape is not None:
            answer["content"] = _content(shape, "serialization", refs)
        responses[str(status)] = answer
    problems = set(op.problems) | (set(BODY_PROBLEMS) if op.body else set()) | (set() if op.public
                                                                                else set(KEY_PROBLEMS))
    problem_schema = {PROBLEM_JSON: {"schema": refs[(Problem, "serialization")]}}
    for status in sorted(problems):
        responses[str(status)] = {"description": HTTPStatus(status).phrase, "content": problem_schema}
    out: Schema = {"summary": op.summary, "responses": responses}
    if op.public:
        out["security"] = []
    params = _parameters(path, op)
    if params:
        out["parameters"] = params
    if op.body:
        content: Schema = {}
        for media, shape in op.body.items():
            content[media] = {"schema": _schema_of(shape, "validation", refs)}
        out["requestBody"] = {"required": op.body_required, "content": content}
    return out


def _public_name(handler_name: str) -> str:
    """A path parameter as api.md names it: the handler's `alert_id` is the path's `{id}`."""
    return "id" if handler_name.endswith("_id") else handler_name


def openapi_path(sanic_path: str) -> str:
    """`v1/alerts/<alert_id:str>/context` -> `/v1/alerts/{id}/context`."""
    return "/" + _PATH_PARAM.sub(lambda m: "{" + _public_name(m.group(1)) + "}", sanic_path)


def build(app: Sanic, base_url: str) -> Schema:
    """The document of `app`'s documented routes."""
    routes = [(openapi_path(r.path), sorted(r.methods), operation_of(r.handler)) for r in app.router.routes]
    declared = [(path, methods, op) for path, methods, op in routes if op is not None]
    refs, defs = _schemas(*_models([op for _, _, op in declared]))
    paths: dict[str, Schema] = {}
    for path, methods, op in sorted(declared, key=lambda r: r[0]):
        for method in methods:
            paths.setdefault(path, {})[method.lower()] = _operation(path, op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tocsin", "version": "1", "description": "Alerting rules engine (see docs/api.md)."},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": defs, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def document(app: Sanic, base_url: str) -> Schema:
    """`build`, once per app and base URL (the routes do not change once it serves)."""
    cache: dict[str, Schema] = app.ctx.openapi_documents
    if base_url not in cache:
        cache[base_url] = build(app, base_url)
    return cache[base_url]
