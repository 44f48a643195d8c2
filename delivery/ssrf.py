"""SSRF guard: which addresses a notification may connect to, checked at connect time.

Always refused: link-local (169.254.0.0/16, fe80::/10, which hold the cloud metadata
services 169.254.169.254 and fd00:ec2::254), known metadata host names, unspecified and
multicast addresses. With `TOCSIN_WEBHOOK_DENY_PRIVATE=1` also loopback, private
(10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10) and reserved ranges.

`guarded_transport()` returns an httpx transport whose connections resolve the host
name, check every resolved address, and connect to a checked address itself, so a DNS
answer cannot change between the check and the connection. Redirects are never followed
(the clients use `follow_redirects=False`) and proxies from the environment are ignored.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpcore
import httpx

from delivery.errors import AddressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_HOSTS = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.com", "metadata.packet.net",
})
_ALWAYS_REFUSED_NETS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/8", "::/128",
    "224.0.0.0/4", "ff00::/8", "100.100.100.200/32",  # Alibaba Cloud metadata
))


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """`deny_private`: refuse loopback and private ranges as well."""

    deny_private: bool = False

    def refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` is refused, or None when a connection to it is allowed."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in net for net in _ALWAYS_REFUSED_NETS if net.version == ip.version):
            return f"{ip} is link-local, metadata or otherwise unroutable"
        if self.deny_private and (
            ip.is_loopback or ip.is_private or ip.is_reserved or ip.is_link_local
            or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED)
        ):
            return f"{ip} is a loopback or private address (TOCSIN_WEBHOOK_DENY_PRIVATE=1)"
        return None

    def check_host(self, host: str) -> None:
        """Refuse by name before any DNS lookup (metadata names, IP literals)."""
        name = host.strip("[]").rstrip(".").lower()
        if name in METADATA_HOSTS or name.endswith(".metadata.google.internal"):
            raise AddressRefused(f"refused to connect to {name}: cloud metadata host")
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return
        reason = self.refusal(ip)
        if reason:
            raise AddressRefused(f"refused to connect to {name}: {reason}")


_SHARED = ipaddress.ip_network("100.64.0.0/10")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the system resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve_checked(policy: AddressPolicy, host: str, port: int, resolve: Resolver) -> list[str]:
    """Allowed addresses for `host`; `AddressRefused` if any resolved address is refused.

    Refusing when *any* answer is bad (not only all) stops a name that mixes a public
    address with a metadata one from reaching the latter on a later connection.
    """
    policy.check_host(host)
    try:
        addresses = resolve(host.strip("[]"), port)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    for address in addresses:
        reason = policy.refusal(ipaddress.ip_address(address.split("%")[0]))
        if reason:
            raise AddressRefused(f"refused to connect to {host}: {reason}")
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, resolve: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolve = resolve

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last: Exception | None = None
        for address in resolve_checked(self.policy, host, port, self.resolve):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")


def guarded_transport(
    policy: AddressPolicy, *, max_connections: int = 200, resolve: Resolver = system_resolver
) -> httpx.HTTPTransport:
    """An httpx transport whose every new connection goes through the SSRF guard."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx does not expose httpcore's `network_backend`; swap the pool it built for one
    # with the guarded backend (same defaults as httpx's own).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        http1=True,
        http2=False,
        network_backend=GuardedBackend(policy, resolve),
    )
    return transport
