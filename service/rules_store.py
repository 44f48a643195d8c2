"""Versioned rule sets in MongoDB: the source every replica follows for hot reload.

`rulesets` holds one document per version (`{_id: version, files, created_at, origin}`)
and a `state` document (`{version, loaded_at, last_reload: {ok, at, diagnostics}}`).
A change (directory reload, `PUT`/`DELETE /v1/rules/{name}`) is all or nothing: the whole
resulting set is loaded with `dsl.load`; with any error the active version stays and
the failure is recorded in `last_reload`. Replicas poll the state document and swap in a
new version (`RulesStore.refresh`). Changes are checked against this process's secrets
(`template_environment`): a `{{ secrets.NAME }}` that is not set is a W505 warning in
`last_reload` and the `PUT` answer, and a line in the log.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pymongo.errors import ConnectionFailure, OperationFailure

import dsl
from delivery.secrets import Secrets
from dsl.formatter import format_trigger
from dsl.ruleset import RuleSet
from dsl.template_environment import TemplateEnvironment
from engine.times import rfc3339
from service.db import Database

FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}\.rules$")
log = logging.getLogger("tocsin.service")


def template_environment() -> TemplateEnvironment:
    """The secrets this process sees, as a delivery worker reads them (workers are expected
    to share the environment); unknown (nothing checked) if the secrets file is unreadable."""
    try:
        return TemplateEnvironment(secrets=Secrets.from_env())
    except (OSError, ValueError) as exc:
        log.warning("secrets could not be read, rules are checked without them: %s", type(exc).__name__)
        return TemplateEnvironment()


def load_checked(files: dict[str, str]) -> tuple[Any, list]:
    """`dsl.load` with this process's secrets; each secret that is not set is logged."""
    ruleset, diagnostics = dsl.load(files, context=template_environment())
    for d in diagnostics:
        if d.code == "W505":
            log.warning("%s:%s:%s: %s", d.span.file, d.span.line, d.span.column, d.message)
    return ruleset, diagnostics


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def errors_of(diagnostics: list) -> list:
    return [d for d in diagnostics if d.is_error]


def monitor_rows(ruleset: RuleSet | None) -> list[dict]:
    """`[{name, trigger, file, line}]` for validate and the rules listing."""
    if ruleset is None:
        return []
    return [
        {"name": m.name, "trigger": format_trigger(m.monitor.trigger), "file": m.file, "line": m.line}
        for m in ruleset.monitors
    ]


@dataclass
class ActiveRules:
    """The version this replica runs, with its compiled `RuleSet`."""

    version: int = 0
    files: dict[str, str] = field(default_factory=dict)
    ruleset: RuleSet | None = None
    loaded_at: datetime | None = None


@dataclass
class Outcome:
    ok: bool
    version: int
    diagnostics: list = field(default_factory=list)
    changed: bool = False


def read_directory(path: str) -> dict[str, str] | None:
    """`{file name: text}` of `*.rules` in the directory, or None if it does not exist."""
    root = Path(path)
    if not root.is_dir():
        return None
    # Bytes that are not UTF-8 become lone surrogates, which the language refuses with
    # their line and column (E002), instead of a decoding error that names no place.
    return {p.name: p.read_text(encoding="utf-8", errors="surrogateescape")
            for p in sorted(root.glob("*.rules")) if p.is_file()}


class RulesStore:
    """Reads, changes and follows the versioned rule set."""

    def __init__(self, db: Database, rules_dir: str | None) -> None:
        self.db = db
        self.rules_dir = rules_dir
        self.active = ActiveRules(ruleset=_empty_ruleset())

    async def state(self) -> dict:
        return await self.db.rulesets.find_one({"_id": "state"}) or {}

    async def refresh(self) -> bool:
        """Adopt the newest stored version if it is not the one we run; True if swapped."""
        state = await self.state()
        version = state.get("version", 0)
        if version == self.active.version:
            return False
        doc = await self.db.rulesets.find_one({"_id": version})
        if doc is None:
            return False
        ruleset, diagnostics = dsl.load(doc["files"])
        if ruleset is None:  # stored versions were valid when written; a newer dsl may disagree
            return False
        self.active = ActiveRules(version, dict(doc["files"]), ruleset, state.get("loaded_at"))
        return True

    async def propose(self, files: dict[str, str], origin: str) -> Outcome:
        """Make `files` the active set if it loads without errors; record the attempt."""
        ruleset, diagnostics = load_checked(files)
        now = datetime.now(timezone.utc)
        if ruleset is None or errors_of(diagnostics):
            await self._record(now, False, diagnostics)
            return Outcome(False, self.active.version, diagnostics)
        state = await self.db.rulesets.find_one_and_update(
            {"_id": "state"}, {"$inc": {"next": 1}}, upsert=True, return_document=True
        )
        version = state["next"]
        await self.db.rulesets.insert_one({"_id": version, "files": files, "created_at": now, "origin": origin})
        await self.db.rulesets.update_one(
            {"_id": "state"}, {"$set": {"version": version, "loaded_at": now}}
        )
        await self._record(now, True, diagnostics)
        self.active = ActiveRules(version, dict(files), ruleset, now)
        return Outcome(True, version, diagnostics, changed=True)

    async def _record(self, at: datetime, ok: bool, diagnostics: list, error: str | None = None) -> None:
        last = {"ok": ok, "at": at, "diagnostics": [d.to_dict() for d in diagnostics]}
        if error is not None:
            last["error"] = error
        await self.db.rulesets.update_one({"_id": "state"}, {"$set": {"last_reload": last}}, upsert=True)

    async def reload_directory(self) -> Outcome | None:
        """Re-read `TOCSIN_RULES_DIR`; None when there is no such directory. Whatever the
        files hold, the active set stays unless the new one loads: a failure (even a bug
        in the front end) is recorded in `last_reload` with `ok: false`."""
        if not self.rules_dir:
            return None
        try:
            return await self._reload_directory(self.rules_dir)
        except (ConnectionFailure, OperationFailure):
            raise  # the database: the caller's to handle, as for any other write
        except Exception as exc:
            log.exception("loading the rules in %s failed; version %s stays active", self.rules_dir,
                          self.active.version)
            await self._record(datetime.now(timezone.utc), False, [],
                               error=f"loading the rules failed ({type(exc).__name__}); the service log has details")
            return Outcome(False, self.active.version)

    async def _reload_directory(self, path: str) -> Outcome | None:
        files = read_directory(path)
        if files is None:
            return None
        await self.refresh()
        if files == self.active.files and self.active.version:
            ruleset, diagnostics = load_checked(files)
            await self._record(datetime.now(timezone.utc), True, diagnostics)
            return Outcome(True, self.active.version, diagnostics)
        return await self.propose(files, "directory")

    async def put_file(self, name: str, text: str | None) -> Outcome:
        """Replace (or with None delete) one file of the active set, then write it through."""
        await self.refresh()
        files = dict(self.active.files)
        if text is None:
            files.pop(name, None)
        else:
            files[name] = text
        outcome = await self.propose(files, "api")
        if outcome.ok:
            self._write_through(name, text)
        return outcome

    def _write_through(self, name: str, text: str | None) -> None:
        """Keep the watched directory in step, so its next reload does not undo the API."""
        if not self.rules_dir or not Path(self.rules_dir).is_dir():
            return
        path = Path(self.rules_dir) / name
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text, encoding="utf-8")

    async def describe(self) -> dict:
        """The `GET /v1/rules` document."""
        state = await self.state()
        await self.refresh()
        per_file: dict[str, int] = {}
        for m in getattr(self.active.ruleset, "monitors", ()):
            per_file[m.file] = per_file.get(m.file, 0) + 1
        last = state.get("last_reload")
        return {
            "version": self.active.version,
            "loaded_at": _iso(self.active.loaded_at),
            "files": [
                {"name": n, "sha256": sha256(t), "monitors": per_file.get(n, 0)}
                for n, t in sorted(self.active.files.items())
            ],
            "last_reload": {**last, "at": _iso(last["at"])} if last else None,
        }


def _iso(t: datetime | None) -> str | None:
    return rfc3339(t) if t else None


def _empty_ruleset() -> RuleSet:
    return RuleSet()
