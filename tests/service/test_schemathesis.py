"""Schemathesis over the app's own `/openapi.json`: no operation answers 5xx.

The app runs on a real loopback server inside the test's event loop (listeners, the
database and the evaluator included); schemathesis is synchronous (requests), so each
operation's generated cases run in a worker thread. Positive and negative cases, a
bounded number per operation so the whole run stays well under a minute.
"""

from __future__ import annotations

import asyncio
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode

from service.app import create_app
from tests.service.conftest import make_config
from tests.service.server import running

# schemathesis draws from `random` inside its strategies; Hypothesis warns about it (not ours).
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))  # raise it for a deeper local run
RULES = ('webhook "hook" { url "http://127.0.0.1:9/hook" }\n'
         'monitor "f" when execution.failed notify webhook "hook"\n')


def _fuzz_operation(operation, base_url: str, mode: GenerationMode, path: dict | None = None) -> list[str]:
    """Run one operation's cases; the failure reports (empty when every answer was < 500).

    `path` fixes path parameters (an alert or rule file that exists) so the cases reach
    past the 404.
    """
    failures: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode, path_parameters=path))
    def check(case) -> None:
        try:
            case.call_and_validate(base_url=base_url, checks=[not_a_server_error], timeout=30)
        except FailureGroup as exc:  # collected, so every operation still gets its run
            failures.append(f"{operation.label} ({mode}): {exc}")

    try:
        check()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters or body).
        if mode is GenerationMode.POSITIVE:
            raise
    return failures


def _fuzz(base_url: str, alert_id: str) -> tuple[int, list[str]]:
    """Every operation with generated path parameters, then again with existing ones."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        count += 1
        fixed = [None]
        if "{id}" in operation.path and operation.path.startswith("/v1/alerts"):
            fixed.append({"id": alert_id})
        elif "{name}" in operation.path:
            fixed.append({"name": "main.rules"})
        for path in fixed:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures.extend(_fuzz_operation(operation, base_url, mode, path))
    return count, failures


async def _first_alert(client) -> str:
    for _ in range(300):
        items = (await client.get("/v1/alerts")).json()["items"]
        if items:
            return items[0]["id"]
        await asyncio.sleep(0.05)
    raise AssertionError("the seed event never fired")


async def test_no_operation_answers_a_server_error(mongo_uri, tmp_path):
    config = make_config(mongo_uri, tmp_path, evaluator=True)
    (tmp_path / "rules" / "main.rules").write_text(RULES)
    async with running(create_app(config)) as client:
        base_url = str(client.base_url).rstrip("/")
        await client.post("/v1/events", json={"id": "seed", "type": "execution.failed", "instance": {"id": "i1"}})
        alert_id = await _first_alert(client)
        count, failures = await asyncio.to_thread(_fuzz, base_url, alert_id)
    assert count >= 20  # every operation of api.md was exercised
    assert failures == [], "\n\n".join(failures[:5])
