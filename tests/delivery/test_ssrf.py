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


# IPv6 addresses that carry an IPv4 address: the IPv4 one is judged (issue 12).
# Teredo: server 65.54.227.120, client = the last 32 bits inverted (RFC 4380).
def teredo(client: str) -> str:
    inverted = int(ipaddress.IPv4Address(client)) ^ 0xFFFF_FFFF
    return f"2001:0:4136:e378:8000:63bf:{inverted >> 16:x}:{inverted & 0xFFFF:x}"


CARRYING_METADATA = ["2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
                     teredo("169.254.169.254"), "64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe",
                     "::169.254.169.254", "::ffff:0:169.254.169.254", "2002:6464:64c8::"]  # 100.100.100.200
CARRYING_PRIVATE = ["2002:7f00:1::1", "2002:a01:203::", "2002:c0a8:101::1", "2002:ac10:1::",  # 127/8 10/8 192.168/16 172.16/12
                    "2002:6440:1::", teredo("127.0.0.1"), teredo("10.1.2.3"), "64:ff9b::7f00:1",
                    "64:ff9b::a01:203", "::ffff:0:10.1.2.3"]
CARRYING_PUBLIC = ["2002:5db8:d822::1", "64:ff9b::5db8:d822", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("ip", CARRYING_METADATA)
def test_ipv6_carrying_a_metadata_address_is_always_refused(ip):
    for policy in (AddressPolicy(), AddressPolicy(deny_private=True)):
        reason = policy.refusal(ipaddress.ip_address(ip))
        assert reason and "carries" in reason, ip


@pytest.mark.parametrize("ip", CARRYING_PRIVATE)
def test_ipv6_carrying_a_private_address_is_private(ip):
    assert AddressPolicy().refusal(ipaddress.ip_address(ip)) is None
    reason = AddressPolicy(deny_private=True).refusal(ipaddress.ip_address(ip))
    assert reason and "carries" in reason and "TOCSIN_WEBHOOK_DENY_PRIVATE" in reason


@pytest.mark.parametrize("ip", CARRYING_PUBLIC)
def test_ipv6_carrying_a_public_address_is_allowed(ip):
    """NAT64 and IPv4-mapped spell the IPv4 address: a public one stays reachable, even
    with deny-private (Python calls 64:ff9b::/96 reserved, which would refuse every
    webhook of an IPv6-only host behind NAT64)."""
    assert AddressPolicy(deny_private=True).refusal(ipaddress.ip_address(ip)) is None


def test_teredo_is_decoded_as_its_client():
    assert teredo("169.254.169.254") == "2001:0:4136:e378:8000:63bf:5601:5601"
    assert ipaddress.ip_address(teredo("10.1.2.3")).teredo[1] == ipaddress.IPv4Address("10.1.2.3")


def test_loopback_and_unspecified_ipv6_keep_their_meaning():
    """`::1` and `::` sit in the IPv4-compatible range but carry no IPv4 address."""
    assert AddressPolicy().refusal(ipaddress.ip_address("::1")) is None
    assert "TOCSIN_WEBHOOK_DENY_PRIVATE" in AddressPolicy(deny_private=True).refusal(ipaddress.ip_address("::1"))
    assert AddressPolicy().refusal(ipaddress.ip_address("::"))


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


def test_name_resolving_to_a_6to4_of_metadata_is_refused_at_connect_time():
    seen: list[str] = []
    client = _client(AddressPolicy(), {"hooks.example.com": ["2002:a9fe:a9fe::1"]}, seen)
    with pytest.raises(AddressRefused, match="carries 169.254.169.254"):
        client.get("http://hooks.example.com/x")
    with pytest.raises(AddressRefused, match="carries 169.254.169.254"):
        client.get("http://[2002:a9fe:a9fe::1]/x")  # a literal, refused before any lookup
    assert seen == ["hooks.example.com"]


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
