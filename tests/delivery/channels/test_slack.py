"""Slack incoming webhook against a real HTTP receiver."""

from __future__ import annotations

from delivery.log import MemoryDeliveryLog
from delivery.pipeline import run_attempt
from tests.delivery.support import SECRETS, SlackChannel, make_runtime, one_request


def test_default_text_is_the_rendered_message(receiver):
    channel = SlackChannel("ops", url=receiver.url + "/services/{{ secrets.SLACK_PATH }}")
    step = run_attempt(one_request(channel), make_runtime(), MemoryDeliveryLog())
    assert step.final_status == "sent"
    (got,) = receiver.requests
    assert got.path == "/services/" + SECRETS["SLACK_PATH"]
    assert got.json() == {"text": "Sync failures: Acme Salesforce Sync failed"}


def test_text_and_blocks_are_templates(receiver):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*{{ monitor.name }}* <{{ alert.url }}|open>"}}]
    channel = SlackChannel("ops", url=receiver.url, text=":rotating_light: $NAME on $FLOW", blocks=blocks)
    run_attempt(one_request(channel), make_runtime(), MemoryDeliveryLog())
    body = receiver.requests[0].json()
    assert body["text"] == ":rotating_light: Sync failures on Sync"
    assert body["blocks"][0]["text"]["text"] == "*Sync failures* <http://tocsin.test/v1/alerts/al-123|open>"


def test_slack_404_fails_without_retry(receiver):
    receiver.answer((404, {}, "channel_not_found"))
    log = MemoryDeliveryLog()
    step = run_attempt(one_request(SlackChannel("ops", url=receiver.url)), make_runtime(), log)
    assert step.final_status == "failed" and step.requeue is None
    assert "channel_not_found" in next(iter(log.attempts.values()))[0]["error"]
