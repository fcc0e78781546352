"""Which network addresses the provider may reach on a platform's behalf.

A platform chooses where its sector document, its JWKS and its back-channel logout
endpoint live; fetching them from inside our network must not let it reach what only we
can (OWASP Server-Side Request Forgery Prevention; the special-purpose address registries
of RFC 6890). Only globally routable unicast addresses are reached, whatever their
spelling (``127.1``, ``2130706433``, ``0x7f000001``, ``[::ffff:7f00:1]`` all resolve to
127.0.0.1 and are judged as such); loopback only where the caller allows it (outside
production: local platforms and the demo)."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from urllib3.util.connection import allowed_gai_family

Address = IPv4Address | IPv6Address

# Beyond what ``is_global`` already refuses (RFC 1918, loopback, link-local with the cloud
# metadata service 169.254.169.254, 100.64.0.0/10, 0.0.0.0/8, 240.0.0.0/4...).
DENIED_V4 = tuple(ip_network(net) for net in (
    "0.0.0.0/8",  # "this network": 0.0.0.0 connects to the local host itself
    "100.64.0.0/10",  # carrier-grade NAT, often shared with internal workloads (RFC 6598)
    "192.0.0.0/24",  # IETF protocol assignments
    "192.88.99.0/24",  # the deprecated 6to4 relay anycast (RFC 7526)
    "198.18.0.0/15",  # benchmarking
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and the limited broadcast address
))
# IPv6 global unicast (RFC 4291 2.4): ULA fc00::/7, link-local, the deprecated site-local
# fec0::/10, multicast and the IPv4-compatible ::/96 all fall outside it.
GLOBAL_UNICAST_V6 = ip_network("2000::/3")
DENIED_V6 = tuple(ip_network(net) for net in (
    "2001::/23",  # IETF protocol assignments: Teredo, ORCHID, benchmarking
    "2001:db8::/32",  # documentation
    "3fff::/20",  # documentation (RFC 9637)
))
NAT64 = ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix
LOOPBACK_NAMES = ("localhost", ".localhost")  # RFC 6761 6.3


class AddressRefused(Exception):
    """The host is, or resolves to, an address the provider does not reach."""


class Unresolved(OSError):
    """The host name does not resolve (now)."""


def parse_peer(address: str | None) -> Address | None:
    """A client's address as the server saw it (``REMOTE_ADDR``), without its IPv6 zone;
    an IPv4-mapped IPv6 address is its IPv4 address. None when there is none or it is
    malformed."""
    try:
        ip = ip_address((address or "").split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped (``::ffff:a.b.c.d``), NAT64
    (``64:ff9b::a.b.c.d``, RFC 6052) or 6to4 (``2002:aabb:ccdd::``, RFC 3056)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def check_address(address: Address, *, allow_loopback: bool) -> bool:
    """True if the provider may connect to ``address``: globally routable unicast only,
    plus this host's loopback when ``allow_loopback``."""
    if isinstance(address, IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            # Only the mapped form is this host's own loopback; a NAT64 or 6to4 one is not.
            mapped = address.ipv4_mapped is not None
            return check_address(inner, allow_loopback=allow_loopback and mapped)
        if address.is_loopback:
            return allow_loopback
        return (address in GLOBAL_UNICAST_V6 and address.is_global
                and not any(address in net for net in DENIED_V6))
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not any(address in net for net in DENIED_V4)


def is_loopback_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == LOOPBACK_NAMES[0] or host.endswith(LOOPBACK_NAMES[1])


def resolve(host: str, port: int, *, allow_loopback: bool) -> list[Address]:
    """Every address ``host`` resolves to, in the resolver's order, if each one may be
    reached; the caller connects to the first. Any refused address refuses the host: a
    name that also points inside must not be half-trusted."""
    if is_loopback_name(host) and not allow_loopback:
        raise AddressRefused(host)
    try:
        # getaddrinfo reads every legacy IPv4 spelling (inet_aton) as the connect would.
        infos = socket.getaddrinfo(host, port, family=allowed_gai_family(),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved(host) from exc
    addresses = [ip_address(str(info[4][0]).partition("%")[0]) for info in infos]
    if not addresses or not all(check_address(a, allow_loopback=allow_loopback)
                                for a in addresses):
        raise AddressRefused(host)
    return addresses


def validate_host(host: str, *, allow_loopback: bool) -> None:
    """At registration: refuse a literal address in any spelling, ``localhost``, or a name
    that resolves now to a refused address. A name that does not resolve yet passes:
    every fetch checks again, since DNS answers change."""
    try:
        resolve(host, 443, allow_loopback=allow_loopback)
    except Unresolved:
        return
