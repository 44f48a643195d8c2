"""SSRF guard: which addresses a notification may connect to, checked at connect time.

Always refused: link-local (169.254.0.0/16, fe80::/10, which hold the cloud metadata
services 169.254.169.254 and fd00:ec2::254), known metadata host names, unspecified and
multicast addresses. With `TOCSIN_WEBHOOK_DENY_PRIVATE=1` also loopback, private
(10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10) and reserved ranges.

`resolve_checked()` is called by `delivery.transport` when it opens a connection: it
resolves the host name, checks every resolved address, and the transport connects to a
checked address itself, so a DNS answer cannot change between check and connection.
Redirects are never followed and proxies from the environment are ignored.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

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
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    for address in addresses:
        reason = policy.refusal(ipaddress.ip_address(address.split("%")[0]))
        if reason:
            raise AddressRefused(f"refused to connect to {host}: {reason}")
    return addresses
