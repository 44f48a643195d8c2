"""The OpenAPI 3.1 document served at `/openapi.json` (and rendered at `/docs`).

Written out here rather than inferred from handlers, so request bodies, the problem
shape and every status code are exact; the event schema comes from the pydantic model.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from delivery.channels import registered_kinds
from dsl.catalog import SEVERITIES
from service.events_model import Event

PROBLEM = {"$ref": "#/components/schemas/Problem"}
JSON = "application/json"


def _problem(*codes: int) -> dict:
    names = {400: "Body is not JSON", 401: "No valid API key", 403: "Key outside its scope",
             404: "Not found", 409: "Conflict", 413: "Over the size limits",
             415: "Unsupported content type", 422: "Validation failed", 503: "Not ready"}
    return {str(c): {"description": names[c], "content": {"application/problem+json": {"schema": PROBLEM}}}
            for c in codes}


def _ok(status: int, description: str, schema: dict | None = None, media: str = JSON) -> dict:
    body: dict[str, Any] = {"description": description}
    if schema is not None:
        body["content"] = {media: {"schema": schema}}
    return {str(status): body}


def _op(summary: str, responses: dict, *, body: dict | None = None, params: list | None = None) -> dict:
    op: dict[str, Any] = {"summary": summary, "responses": {**responses, **_problem(401, 403)}}
    if body:
        op["requestBody"] = {"required": True, "content": body}
    if params:
        op["parameters"] = params
    return op


def _param(name: str, where: str = "query", schema: dict | None = None, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema or {"type": "string"}}


OBJ = {"type": "object"}
EVENT = {"$ref": "#/components/schemas/Event"}
# Mirrors service.config.parse_duration: `90`, `30d`, `1h30m`, `250ms`.
DURATION = {"type": "string", "pattern": r"^(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d|w))+)$", "examples": ["5m", "1h30m"]}
RULE_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.rules$", "examples": ["main.rules"]}
STATUS = {"type": "string", "enum": ["firing", "pending", "resolved", "inactive"]}
FILES = {"type": "object", "required": ["files"], "additionalProperties": False,
         "properties": {"files": {"type": "object", "additionalProperties": {"type": "string"}}}}
RULE_BODY = {JSON: {"schema": FILES}, "text/plain": {"schema": {"type": "string"}}}
LIST = {"type": "object", "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": OBJ}, "next_cursor": {"type": ["string", "null"]}}}
BY = {"type": "object", "additionalProperties": False,
      "properties": {"by": {"type": ["string", "null"]}, "comment": {"type": ["string", "null"]}}}
_SILENCE_COMMON = {"matchers": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
                   "comment": {"type": ["string", "null"]}, "by": {"type": ["string", "null"]}}
SILENCE = {"description": "exactly one of `duration` and `ends_at`; the silence ends within a year", "oneOf": [
    {"type": "object", "required": ["matchers", "duration"], "additionalProperties": False,
     "properties": {**_SILENCE_COMMON, "duration": DURATION}},
    {"type": "object", "required": ["matchers", "ends_at"], "additionalProperties": False,
     "properties": {**_SILENCE_COMMON, "ends_at": {"type": "string", "format": "date-time"}}}]}
TEST = {"type": "object", "required": ["files", "events"], "additionalProperties": False, "properties": {
    "files": {"type": "object", "additionalProperties": {"type": "string"}},
    "events": {"type": "array", "maxItems": 1000, "items": EVENT},
    "until": {"type": "string", "format": "date-time"},
    "render": {"type": "boolean", "default": False,
               "description": "also list each alert event's notifications as they would be sent"}}}
TEXT_OR_NULL = {"type": ["string", "null"]}
# One notification of a dry run with `render` (delivery/preview.py): nothing is sent.
NOTIFICATION = {"type": "object", "required": [
    "channel", "target", "method", "url", "headers", "subject", "body", "render_warnings", "error"], "properties": {
    "channel": {"type": "string", "enum": registered_kinds()},
    "target": {"type": "string", "description": "the channel's name, the e-mail address or the phone number"},
    "method": TEXT_OR_NULL, "url": TEXT_OR_NULL,
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "subject": {**TEXT_OR_NULL, "description": "e-mail only"},
    "body": {"description": "parsed when JSON (an object for a form), else text; null when none"},
    "render_warnings": {"type": "array", "items": {"type": "string"}},
    "error": {**TEXT_OR_NULL, "description": "why it would not be delivered (or not previewed)"}}}
DRY_RUN = {"type": "object", "required": ["ok", "alert_events", "diagnostics"], "properties": {
    "ok": {"type": "boolean"},
    "diagnostics": {"type": "array", "items": OBJ},
    "alert_events": {"type": "array", "items": {
        "type": "object", "required": ["monitor", "key", "kind", "at", "severity", "targets"], "properties": {
            "monitor": {"type": "string"}, "key": OBJ, "kind": {"type": "string"},
            "at": {"type": "string", "format": "date-time"}, "severity": {"type": "string"},
            "targets": {"type": "array", "items": {"type": "string"}},
            "notifications": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"},
                              "description": "with `render` only"}}}},
    "monitor_errors": {"type": "array", "description": "monitors that failed on the way (the others went on)",
                       "items": {"type": "object", "required": ["monitor", "error", "stage", "at", "event_id"],
                                 "properties": {"monitor": {"type": "string"}, "error": {"type": "string"},
                                                "stage": {"type": "string"},
                                                "at": {"type": "string", "format": "date-time"},
                                                "event_id": TEXT_OR_NULL}}}}}
# POST /v1/backtest (service/routes/backtest.py): the dry-run rows of the stored events in a range.
BACKTEST = {"type": "object", "required": ["from", "to"], "additionalProperties": False,
            "description": "exactly one of `files` (rules loaded as a set) and `monitor` (of the active set)",
            "properties": {
                "files": {"type": "object", "additionalProperties": {"type": "string"}},
                "monitor": {"type": "string", "minLength": 1},
                "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}}}
BACKTEST_RESULT = {"type": "object", "required": [
    "ok", "from", "to", "events", "alert_events", "total", "truncated", "diagnostics", "monitor_errors"], "properties": {
    **DRY_RUN["properties"],
    "alert_events": {"type": "array", "items": {
        "type": "object", "required": ["monitor", "key", "kind", "at", "severity", "targets", "alert_id", "value",
                                       "threshold"],
        "properties": {**DRY_RUN["properties"]["alert_events"]["items"]["properties"], "alert_id": {"type": "string"},
                       "value": {"type": ["number", "null"]}, "threshold": {"type": ["number", "null"]}}}},
    "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
    "events": {"type": "integer", "description": "stored events replayed"},
    "total": {"type": "integer", "description": "alert events the replay made (not muted)"},
    "truncated": {"type": "boolean", "description": "more than `limit`: the earliest are listed"}}}
# GET /v1/cluster (service/routes/cluster.py, service/membership.py).
CLUSTER = {"type": "object", "required": ["replicas", "partitions"], "additionalProperties": False, "properties": {
    "partitions": {"type": "integer", "minimum": 1, "description": "TOCSIN_EVALUATOR_PARTITIONS, as stored"},
    "replicas": {"type": "array", "description": "live evaluating replicas, oldest first", "items": {
        "type": "object", "required": ["id", "started_at", "heartbeat_at", "partitions"],
        "additionalProperties": False, "properties": {
            "id": {"type": "string", "description": "host:pid:random, also the owner in its leases"},
            "started_at": {"type": "string", "format": "date-time"},
            "heartbeat_at": {"type": "string", "format": "date-time"},
            "partitions": {"type": "array", "items": {"type": "integer", "minimum": 0},
                           "description": "the partitions whose lease it holds now"}}}}}}
PAGE = [_param("limit", schema={"type": "integer", "minimum": 1, "maximum": 500}), _param("cursor")]
# GET /v1/alerts (service/routes/alerts.py): any other query parameter is a 422.
ALERT_FILTERS = [
    _param("status", schema=STATUS), _param("monitor", schema={"type": "string", "description": "the monitor's name"}),
    _param("severity", schema={"type": "string", "enum": list(SEVERITIES)}),
    _param("instance", schema={"type": "string", "description": "the instance's id or name, in the key or the last event"}),
    _param("flow", schema={"type": "string", "description": "the flow, in the key or the last event"}),
    _param("customer", schema={"type": "string",
                               "description": "the customer's external id or name, in the key or the last event"}),
    _param("acknowledged", schema={"type": "boolean"}), *PAGE]


def _paths() -> dict:
    event_body = {"oneOf": [EVENT, {"type": "array", "maxItems": 1000, "items": EVENT}]}
    alert_id = _param("id", "path")
    name = _param("name", "path", RULE_NAME)
    lint_name = [_param("name", schema=RULE_NAME)]
    return {
        "/v1/events": {"post": _op("Store one event or a batch", {
            **_ok(202, "Stored", {"type": "object", "properties": {
                "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                "ids": {"type": "array", "items": {"type": "string"}}}}),
            **_problem(400, 413, 415, 422)}, body={
            JSON: {"schema": event_body}, "application/cloudevents+json": {"schema": OBJ},
            "application/cloudevents-batch+json": {"schema": {"type": "array", "items": OBJ}}})},
        "/v1/rules/lint": {"post": _op("Lint rule files", {**_ok(200, "Diagnostics", OBJ),
                                                           **_problem(400, 415, 422)}, body=RULE_BODY,
                                       params=lint_name)},
        "/v1/rules/validate": {"post": _op("Validate against the active set", {
            **_ok(200, "Diagnostics and monitors", OBJ), **_problem(400, 415, 422)}, body=RULE_BODY,
            params=lint_name)},
        "/v1/rules": {"get": _op("The active rule set", _ok(200, "Rule set", OBJ))},
        "/v1/rules/reload": {"post": _op("Re-read the rules directory", {
            **_ok(200, "Reload outcome", OBJ), **_problem(409)})},
        "/v1/rules/{name}": {
            "get": _op("One rule file's text", {**_ok(200, "Text", {"type": "string"}, "text/plain"),
                                                **_problem(404)}, params=[name]),
            "put": _op("Create or replace a rule file", {**_ok(200, "New version", OBJ), **_problem(400, 404, 422)},
                       body={"text/plain": {"schema": {"type": "string"}}}, params=[name]),
            "delete": _op("Delete a rule file", {**_ok(200, "New version", OBJ), **_problem(404, 422)},
                          params=[name])},
        "/v1/monitors": {"get": _op("Monitors", {**_ok(200, "Monitors", LIST), **_problem(422)}, params=PAGE)},
        "/v1/alerts": {"get": _op("Alerts, newest first", {**_ok(200, "A page of alerts", LIST), **_problem(422)},
                                  params=ALERT_FILTERS)},
        "/v1/alerts/{id}": {"get": _op("An alert with its alert events and deliveries", {
            **_ok(200, "Alert", OBJ), **_problem(404)}, params=[alert_id])},
        "/v1/alerts/{id}/context": {"get": _op("Stored events around the alert's last trigger", {
            **_ok(200, "Events", LIST), **_problem(404, 422)},
            params=[alert_id, _param("before", schema=DURATION), _param("after", schema=DURATION), *PAGE])},
        "/v1/alerts/{id}/acknowledge": {"post": _op("Acknowledge", {
            **_ok(200, "Alert", OBJ), **_problem(400, 404, 409)}, body={JSON: {"schema": BY}}, params=[alert_id])},
        "/v1/alerts/{id}/clear": {"post": _op("Resolve by hand", {
            **_ok(200, "Alert", OBJ), **_problem(400, 404, 409)}, body={JSON: {"schema": BY}}, params=[alert_id])},
        "/v1/silences": {
            "get": _op("Silences", {**_ok(200, "Silences", LIST), **_problem(422)},
                       params=[_param("all", schema={"type": "boolean"}), *PAGE]),
            "post": _op("Create a silence", {**_ok(201, "Silence", OBJ), **_problem(400, 415, 422)},
                        body={JSON: {"schema": SILENCE}})},
        "/v1/silences/{id}": {"delete": _op("Delete a silence", {**_ok(204, "Deleted"), **_problem(404)},
                                            params=[_param("id", "path")])},
        "/v1/test": {"post": _op("Dry-run rules over events", {**_ok(200, "Alert events", DRY_RUN),
                                                               **_problem(400, 413, 415, 422)},
                                 body={JSON: {"schema": TEST}})},
        "/v1/backtest": {"post": _op("Replay rules over the stored events of a time range, dry", {
            **_ok(200, "Alert events", BACKTEST_RESULT), **_problem(400, 415, 422)}, body={JSON: {"schema": BACKTEST}})},
        "/v1/cluster": {"get": _op("Evaluating replicas and the partitions each holds", _ok(200, "Cluster", CLUSTER))},
        "/healthz": {"get": {"summary": "Process up", "security": [], "responses": _ok(200, "Up", OBJ)}},
        "/readyz": {"get": _op("Database and broker reachable", {**_ok(200, "Ready", OBJ), **_problem(503)})},
        "/metrics": {"get": _op("Prometheus metrics", _ok(200, "Text format", {"type": "string"}, "text/plain"))},
    }


@lru_cache(maxsize=8)
def _document(base_url: str) -> dict:
    event = Event.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = dict(event.pop("$defs", {}))
    schemas["Event"] = event
    schemas["Problem"] = {"type": "object", "required": ["type", "title", "status"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "errors": {"type": "array", "items": OBJ}}}
    schemas["Notification"] = NOTIFICATION
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tocsin", "version": "1", "description": "Alerting rules engine (see docs/api.md)."},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def document(base_url: str) -> dict:
    return _document(base_url)


DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Tocsin API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>
"""
