"""Rule files: lint, validate, read, change, reload (api.md § Rules)."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import ValidationError
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, text
from sanic.response import json as json_response

import dsl
from dsl.ast import Span
from dsl.diagnostics import Diagnostic, error, sort_key
from dsl.ruleset import RuleSet
from engine import Engine
from service.api_doc import JSON, TEXT, Media, Param, documented
from service.api_models import RULE_NAME, LintResult, ReloadResult, RuleFiles, RulesChange, RulesState, ValidateResult, validation_problem
from service.json_body import media_type, read_json
from service.problems import Problem
from service.rules_store import FILE_NAME, errors_of, monitor_rows, template_environment

bp = Blueprint("rules", url_prefix="/v1/rules")

DEFAULT_NAME = "input.rules"
RULE_TEXT = Media(TEXT, {"type": "string", "description": "one rule file's text"})
RULE_BODY = {JSON: RuleFiles, TEXT: RULE_TEXT}
NAME_QUERY = (Param("name", RULE_NAME, "the file name of a text/plain body (default input.rules)"),)
NAME_PATH = {"name": RULE_NAME}


def body_files(request: Request) -> dict[str, str]:
    """`{"files": {name: text}}` (JSON) or one file as `text/plain` (`?name=`, default input.rules)."""
    if media_type(request) == "text/plain":
        try:
            return {request.args.get("name", DEFAULT_NAME): request.body.decode("utf-8")}
        except UnicodeDecodeError as exc:
            raise Problem(400, "rule text must be UTF-8") from exc
    if media_type(request) != "application/json":
        raise Problem(415, "send application/json {\"files\": {...}} or text/plain")
    try:
        return RuleFiles.model_validate(read_json(request)).files
    except ValidationError as exc:
        raise validation_problem(exc, "expected {\"files\": {\"name.rules\": \"text\", ...}}", whole="/files") from None


def _sorted(diagnostics: list[Diagnostic]) -> list[dict]:
    return [d.to_dict() for d in sorted(diagnostics, key=sort_key)]


def compile_check(ruleset: RuleSet) -> Diagnostic | None:
    """E403 if the engine cannot compile `ruleset`, else None."""
    try:
        Engine(ruleset, now=datetime.now(timezone.utc))
    except Exception as exc:  # the engine refusing a checked set is a bug, but say so
        return error(Span("<ruleset>", 1, 1, 1, 1), "E403", f"does not compile: {exc}")
    return None


@bp.post("/lint")
@documented("Lint rule files", ok={200: LintResult}, body=RULE_BODY, query=NAME_QUERY, problems=(400, 415, 422))
async def lint(request: Request) -> HTTPResponse:
    """Syntax and checks over the body's files together; pure."""
    files = body_files(request)
    _, diagnostics = dsl.load(files)
    return json_response({"ok": not errors_of(diagnostics), "diagnostics": _sorted(diagnostics)})


@bp.post("/validate")
@documented("Validate against the active set", ok={200: ValidateResult}, body=RULE_BODY, query=NAME_QUERY,
            problems=(400, 415, 422))
async def validate(request: Request) -> HTTPResponse:
    """The active set with the body's files replacing namesakes, checked (with this
    service's secrets: one that is not set is W505) and compiled."""
    files = body_files(request)
    store = request.app.ctx.rules
    await store.refresh()
    merged = {**store.active.files, **files}
    ruleset, diagnostics = dsl.load(merged, context=template_environment())
    # Warnings in files the caller did not send are not theirs to act on; errors are.
    shown = [d for d in diagnostics if d.is_error or d.span.file in files]
    compile_problem = compile_check(ruleset) if ruleset is not None else None
    if compile_problem:
        shown.append(compile_problem)
    ok = ruleset is not None and not errors_of(shown)
    return json_response({"ok": ok, "diagnostics": _sorted(shown), "monitors": monitor_rows(ruleset)})


@bp.get("")
@documented("The active rule set", ok={200: RulesState})
async def list_rules(request: Request) -> HTTPResponse:
    return json_response(await request.app.ctx.rules.describe())


@bp.post("/reload")
@documented("Re-read the rules directory", ok={200: ReloadResult}, problems=(409,))
async def reload(request: Request) -> HTTPResponse:
    """Re-read the rules directory now; all or nothing."""
    store = request.app.ctx.rules
    outcome = await store.reload_directory()
    if outcome is None:
        raise Problem(409, f"the rules directory {store.rules_dir!r} does not exist")
    request.app.ctx.process.rules_changed()
    return json_response({**await store.describe(), "ok": outcome.ok})


def _checked_name(name: str) -> str:
    if not FILE_NAME.match(name):
        raise Problem(404, "rule file names look like `name.rules` (letters, digits, _ . -)")
    return name


@bp.get("/<name:str>")
@documented("One rule file's text", ok={200: RULE_TEXT}, path=NAME_PATH, problems=(404,))
async def get_file(request: Request, name: str) -> HTTPResponse:
    store = request.app.ctx.rules
    await store.refresh()
    text_ = store.active.files.get(_checked_name(name))
    if text_ is None:
        raise Problem(404, f"no rule file {name!r} in the active set")
    return text(text_, content_type="text/plain; charset=utf-8")


async def _change(request: Request, name: str, new_text: str | None) -> HTTPResponse:
    store = request.app.ctx.rules
    outcome = await store.put_file(name, new_text)
    if not outcome.ok:
        raise Problem(422, "the resulting rule set has errors; nothing changed",
                      errors=_sorted(outcome.diagnostics))
    request.app.ctx.process.rules_changed()
    return json_response({"version": outcome.version, "ok": True, "diagnostics": _sorted(outcome.diagnostics)})


@bp.put("/<name:str>")
@documented("Create or replace a rule file", ok={200: RulesChange}, body={TEXT: RULE_TEXT}, path=NAME_PATH,
            problems=(400, 404, 422))
async def put_file(request: Request, name: str) -> HTTPResponse:
    _checked_name(name)
    try:
        new_text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "rule text must be UTF-8") from exc
    return await _change(request, name, new_text)


@bp.delete("/<name:str>")
@documented("Delete a rule file", ok={200: RulesChange}, path=NAME_PATH, problems=(404, 422))
async def delete_file(request: Request, name: str) -> HTTPResponse:
    store = request.app.ctx.rules
    await store.refresh()
    if _checked_name(name) not in store.active.files:
        raise Problem(404, f"no rule file {name!r} in the active set")
    return await _change(request, name, None)
