"""Event values in a channel's `url` cannot move the request (issue 12): a real receiver
on 127.0.0.1 sees the path the rule author wrote, with the values in it as data."""

from __future__ import annotations

from delivery.runtime import WorkerResources
from delivery.secrets import Secrets
from delivery.settings import DeliverySettings
from tests.delivery.support import (
    EVENT,
    FAST_RETRY,
    SECRETS,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
    attempt_once,
    make_runtime,
    one_request,
)

HOSTILE = "x@evil.example/../y?z#w"


def hostile_event(**data: object) -> dict:
    return {**EVENT, "customer": {"name": HOSTILE, "external_id": "acme & co=1"}, "data": data}


def test_a_value_cannot_rewrite_the_webhook_path(receiver):
    channel = WebhookChannel("ops", url=receiver.url + "/hooks/{{ event.customer.name }}/alert")
    outcome = attempt_once(one_request(channel, event=hostile_event()), make_runtime())
    assert outcome.state == "sent"
    (got,) = receiver.requests
    # raw, the request went to /y?z
    assert got.path == "/hooks/x%40evil.example%2F..%2Fy%3Fz%23w/alert"


def test_values_in_the_query_stay_one_value(receiver):
    channel = WebhookChannel("ops", url=receiver.url + "/hooks?customer=$CUSTOMER_EXTERNAL_ID&flow={{ event.flow }}",
                             method="GET")
    attempt_once(one_request(channel, event=hostile_event()), make_runtime())
    (got,) = receiver.requests
    assert got.path == "/hooks?customer=acme%20%26%20co%3D1&flow=Sync"


def test_a_dot_segment_value_does_not_climb(receiver):
    channel = WebhookChannel("ops", url=receiver.url + "/tenants/{{ event.data.tenant }}/alerts")
    attempt_once(one_request(channel, event=hostile_event(tenant="..")), make_runtime())
    (got,) = receiver.requests
    assert got.path == "/tenants/%2E%2E/alerts"


def test_a_whole_url_from_a_secret_is_used_as_given(receiver):
    secrets = {**SECRETS, "HOOK_URL": receiver.url + "/services/T0/B0/XX?a=1&b=2"}
    for channel in (WebhookChannel("ops", url="{{ secrets.HOOK_URL }}"),
                    SlackChannel("ops", url="{{ secrets.HOOK_URL }}"),
                    PagerDutyChannel("core", routing_key="rk", url="{{ secrets.HOOK_URL }}")):
        assert attempt_once(one_request(channel), make_runtime(secrets)).state == "sent"
    assert [got.path for got in receiver.requests] == ["/services/T0/B0/XX?a=1&b=2"] * 3


def test_slack_and_pagerduty_urls_are_encoded_too(receiver):
    for channel in (SlackChannel("ops", url=receiver.url + "/s/{{ event.customer.name }}"),
                    PagerDutyChannel("core", routing_key="rk", url=receiver.url + "/p/{{ event.customer.name }}")):
        assert attempt_once(one_request(channel, event=hostile_event()), make_runtime()).state == "sent"
    assert [got.path for got in receiver.requests] == ["/s/x%40evil.example%2F..%2Fy%3Fz%23w",
                                                       "/p/x%40evil.example%2F..%2Fy%3Fz%23w"]


def test_a_value_cannot_supply_a_port_or_path_after_the_host():
    """`http://{{ … }}/`: the value is one component, so its `:` and `/` cannot make a
    port and a path; the whole of it is the name looked up."""
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        raise OSError("no such name")

    runtime = WorkerResources(DeliverySettings(retry=FAST_RETRY), Secrets(SECRETS), resolve=resolve)
    channel = WebhookChannel("ops", url="http://{{ event.data.host }}/hook")
    outcome = attempt_once(one_request(channel, event=hostile_event(host="127.0.0.1:9/x?")), runtime)
    assert outcome.state == "pending"  # a name that does not resolve is retried
    assert asked == [("127.0.0.1%3a9%2fx%3f", 80)]
