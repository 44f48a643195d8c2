"""Slack incoming webhook against a real HTTP receiver."""

from __future__ import annotations

from tests.delivery.support import SECRETS, SlackChannel, attempt_once, make_runtime, one_request


def test_default_text_is_the_rendered_message(receiver):
    channel = SlackChannel("ops", url=receiver.url + "/services/{{ secrets.SLACK_PATH }}")
    outcome = attempt_once(one_request(channel), make_runtime())
    assert outcome.state == "sent"
    (got,) = receiver.requests
    assert got.path == "/services/" + SECRETS["SLACK_PATH"]
    assert got.json() == {"text": "Sync failures: Acme Salesforce Sync failed"}


def test_text_and_blocks_are_templates(receiver):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*{{ monitor.name }}* <{{ alert.url }}|open>"}}]
    channel = SlackChannel("ops", url=receiver.url, text=":rotating_light: $NAME on $FLOW", blocks=blocks)
    attempt_once(one_request(channel), make_runtime())
    body = receiver.requests[0].json()
    assert body["text"] == ":rotating_light: Sync failures on Sync"
    assert body["blocks"][0]["text"]["text"] == "*Sync failures* <http://tocsin.test/alerts/al-123|open>"


def test_slack_404_fails_without_retry(receiver):
    receiver.answer((404, {}, "channel_not_found"))
    outcome = attempt_once(one_request(SlackChannel("ops", url=receiver.url)), make_runtime())
    assert outcome.state == "failed" and outcome.next_attempt_at is None
    assert outcome.event["data"]["status"] == "failed"
    assert "channel_not_found" in outcome.attempt["error"]
    assert len(receiver.requests) == 1
