"""The SSRF guard: refusals checked on resolved addresses, without traffic off the machine."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from delivery.errors import AddressRefused
from delivery.ssrf import AddressPolicy
from delivery.transport import guarded_transport
from tests.delivery.support import WebhookChannel, attempt_once, make_runtime, one_request

ALWAYS = ["169.254.169.254", "169.254.0.1", "fd00:ec2::254", "fe80::1", "0.0.0.0",
          "224.0.0.1", "::ffff:169.254.169.254", "100.100.100.200"]
PRIVATE = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "::1",
           "fc00::1", "::ffff:127.0.0.1"]


@pytest.mark.parametrize("ip", ALWAYS)
def test_link_local_and_metadata_always_refused(ip):
    assert AddressPolicy().refusal(ipaddress.ip_address(ip))
    assert AddressPolicy(deny_private=True).refusal(ipaddress.ip_address(ip))


@pytest.mark.parametrize("ip", PRIVATE)
def test_private_refused_only_when_asked(ip):
    assert AddressPolicy().refusal(ipaddress.ip_address(ip)) is None
    assert AddressPolicy(deny_private=True).refusal(ipaddress.ip_address(ip))


def test_public_address_allowed():
    assert AddressPolicy(deny_private=True).refusal(ipaddress.ip_address("93.184.216.34")) is None


def _client(policy: AddressPolicy, answers: dict[str, list[str]], seen: list[str]) -> httpx.Client:
    def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return answers[host]

    return httpx.Client(transport=guarded_transport(policy, resolve=resolve), follow_redirects=False)


def test_name_resolving_to_metadata_is_refused_at_connect_time():
    seen: list[str] = []
    client = _client(AddressPolicy(), {"hooks.example.com": ["169.254.169.254"]}, seen)
    with pytest.raises(AddressRefused, match="169.254.169.254"):
        client.get("http://hooks.example.com/x")
    assert seen == ["hooks.example.com"]  # checked after resolution, nothing connected


def test_name_with_one_bad_answer_is_refused():
    client = _client(AddressPolicy(), {"mixed.example.com": ["93.184.216.34", "fd00:ec2::254"]}, [])
    with pytest.raises(AddressRefused):
        client.get("http://mixed.example.com/")


def test_metadata_host_name_refused_before_any_lookup():
    seen: list[str] = []
    client = _client(AddressPolicy(), {}, seen)
    for url in ("http://metadata.google.internal/computeMetadata/v1/", "http://169.254.169.254/latest/",
                "http://[fd00:ec2::254]/"):
        with pytest.raises(AddressRefused):
            client.get(url)
    assert seen == []


def test_loopback_receiver_allowed_by_default_and_refused_with_deny_private(receiver):
    request = one_request(WebhookChannel("ops", url=receiver.url))
    assert attempt_once(request, make_runtime()).state == "sent"
    denied = one_request(WebhookChannel("ops", url=receiver.url), kind="resolved")
    outcome = attempt_once(denied, make_runtime(deny_private=True))
    assert outcome.state == "failed" and outcome.next_attempt_at is None  # refused: never retried
    assert outcome.event["data"]["status"] == "failed"
    assert "TOCSIN_WEBHOOK_DENY_PRIVATE" in outcome.attempt["error"]
    assert len(receiver.requests) == 1


def test_localhost_name_resolved_then_refused_with_deny_private(receiver):
    url = receiver.url.replace("127.0.0.1", "localhost")
    outcome = attempt_once(one_request(WebhookChannel("ops", url=url)), make_runtime(deny_private=True))
    assert outcome.state == "failed"
    assert receiver.requests == []


def test_redirects_are_not_followed(receiver):
    receiver.answer((302, {"Location": "http://169.254.169.254/latest/meta-data"}))
    outcome = attempt_once(one_request(WebhookChannel("ops", url=receiver.url)), make_runtime())
    assert outcome.state == "failed"
    assert len(receiver.requests) == 1
    assert "redirect not followed" in outcome.attempt["error"]


def test_environment_proxy_is_ignored(receiver, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://169.254.169.254:3128")
    monkeypatch.setenv("http_proxy", "http://169.254.169.254:3128")
    outcome = attempt_once(one_request(WebhookChannel("ops", url=receiver.url)), make_runtime())
    assert outcome.state == "sent"
