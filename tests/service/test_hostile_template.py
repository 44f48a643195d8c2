"""A hostile template renders in an embedded worker; the API keeps answering (issue 9)."""

from __future__ import annotations

import asyncio
import time

from service.app import create_app
from tests.service.conftest import make_config
from tests.service.receiver import Receiver
from tests.service.server import running
from tests.service.test_testing import within_a_second

# Four deliveries render at once in the embedded worker threads: the message and a payload
# leaf run until the 0.5 s render deadline stops them, the other leaves break the integer
# and repetition caps; every delivery falls back to the standard text and goes out.
# (`{% set n %}`: the rule checker folds constant expressions when it compiles a template,
# which is not the render path this test is about.)
SLOW = "{% set a = range(30000)|list %}{% for i in range(100000) %}{% set b = a|sort %}{% endfor %}"
HOOK = """
webhook "hook{i}" {{
  url "{url}?n={i}"
  payload {{
    "a": "{{% set n = 64 %}}{{{{ ((((10**n)**n)**n)**n) > 1 }}}}",
    "b": "{{% set n = 60000 %}}{{{{ [[0]*n]*n }}}}",
    "c": "{slow}"
  }}
}}
"""
MONITOR = """
monitor "f" when execution.failed
  message "{slow}"
  notify webhook "hook1", webhook "hook2", webhook "hook3", webhook "hook4"
"""
HOOKS = 4


def rules(url: str) -> str:
    return "".join(HOOK.format(i=i, url=url, slow=SLOW) for i in range(1, HOOKS + 1)) + MONITOR.format(slow=SLOW)


async def test_healthz_answers_within_a_second_while_a_hostile_template_renders(mongo_uri, tmp_path):
    with Receiver() as receiver:
        config = make_config(mongo_uri, tmp_path, evaluator=True)
        (tmp_path / "rules" / "main.rules").write_text(rules(receiver.url))
        async with running(create_app(config)) as client:
            loaded = (await client.get("/v1/rules")).json()
            assert loaded["version"] == 1, loaded
            await client.post("/v1/events", json={"id": "e1", "type": "execution.failed",
                                                  "instance": {"id": "i1"}})
            started = time.monotonic()
            latencies: list[float] = []
            while receiver.count < HOOKS and time.monotonic() - started < 30:
                t0 = time.monotonic()
                response = await client.get("/healthz", timeout=5)
                latencies.append(time.monotonic() - t0)
                assert response.status_code == 200
                await asyncio.sleep(0.02)
            rendering = time.monotonic() - started
        assert receiver.count == HOOKS  # the notifications still went out (standard texts)
        assert rendering > 0.5, rendering  # four workers' templates ran into their deadline meanwhile
        assert latencies  # asked at least once while the templates rendered
        assert within_a_second(latencies), latencies
