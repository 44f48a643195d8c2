"""SSRF guard: which addresses a notification may connect to, checked at connect time.

Always refused: link-local (169.254.0.0/16, fe80::/10, which hold the cloud metadata
services 169.254.169.254 and fd00:ec2::254), known metadata host names, unspecified and
multicast addresses. With `TOCSIN_WEBHOOK_DENY_PRIVATE=1` also loopback, private
(10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10) and reserved ranges.

IPv6 addresses that carry an IPv4 address reach that IPv4 host, so the IPv4 address
is judged by the same policy (`embedded_ipv4`): IPv4-mapped `::ffff:0:0/96`, SIIT's
`::ffff:0:0:0/96`, the deprecated IPv4-compatible `::/96`, NAT64's well-known
`64:ff9b::/96` and local-use `64:ff9b:1::/48` (the IPv4 address in the last 32 bits,
as a /96 prefix places it) are only another spelling of it, so only the IPv4 address
is judged (NAT64 to a public address stays allowed under deny-private); 6to4
`2002::/16` and Teredo `2001::/32` tunnel to it through a relay, so the IPv6 address
is judged as well, and for Teredo both the client and the server address. A 6to4
address of 127.0.0.1 or 10.x is private; one of 169.254.169.254 is always refused.

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
# IPv6 prefixes whose last 32 bits are an IPv4 address the traffic goes to.
_IPV4_IN_LAST_32_BITS = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96", "::/96",
))
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
        if isinstance(ip, ipaddress.IPv6Address):
            carried, tunnelled = embedded_ipv4(ip)
            for inner in carried:
                reason = self._own_refusal(inner)
                if reason:
                    return f"{ip} carries {inner}, and {reason}"
            if carried and not tunnelled:
                return None
        return self._own_refusal(ip)

    def _own_refusal(self, ip: IPAddress) -> str | None:
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


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[tuple[ipaddress.IPv4Address, ...], bool]:
    """(the IPv4 addresses `ip` carries, tunnelled?): tunnelled (6to4, Teredo) means the
    IPv6 address is a route of its own besides; otherwise it only spells the IPv4 one."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,), False
    if ip.sixtofour is not None:
        return (ip.sixtofour,), True
    if ip.teredo is not None:
        server, client = ip.teredo
        return (client, server), True
    if int(ip) > 1 and any(ip in net for net in _IPV4_IN_LAST_32_BITS):  # not :: or ::1
        return (ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF),), False
    return (), False


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
