"""Where a session comes from, told without keeping the address: the network prefix
(IPv4 /24, IPv6 /48) and, when ``geoip_database`` is set, the approximate place that a
MaxMind-format database gives for that prefix."""

from __future__ import annotations

import ipaddress
from typing import Any

import maxminddb
from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from idp.addresses import parse_peer
from idp.settings import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
PREFIX_BITS = {4: 24, 6: 48}
# Addresses of the provider's own surroundings (a home or office network, the machine
# itself). Documentation and other special ranges are shown as ordinary networks.
LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10",
))
GEOIP = "idp.geoip"


def ip_prefix(address: str | None) -> str | None:
    """The network of ``address`` ("203.0.113.0/24"); None for no or a malformed address.
    The full address is never returned, so it is never stored."""
    ip = parse_peer(address)
    if ip is None:
        return None
    return str(ipaddress.ip_network((ip, PREFIX_BITS[ip.version]), strict=False))


def parse_prefix(prefix: str | None) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(prefix or "")
    except ValueError:
        return None


def check_local(network: IPNetwork) -> bool:
    return any(network.version == local.version and network.subnet_of(local)  # type: ignore[arg-type]
               for local in LOCAL_NETWORKS)


def describe_place(prefix: str | None) -> str:
    """"Lyon, France" (with a GeoIP database), "Network 203.0.113.x", "Local network"."""
    network = parse_prefix(prefix)
    if network is None:
        return _("Unknown network")
    if check_local(network):
        return _("Local network")
    return query_place(network) or _("Network %(prefix)s", prefix=short_prefix(network))


def short_prefix(network: IPNetwork) -> str:
    if network.version == 4:
        return ".".join(str(network.network_address).split(".")[:3]) + ".x"
    return str(network)


def query_place(network: IPNetwork) -> str | None:
    """City and country of the prefix in the GeoIP database, in the page's language."""
    reader: maxminddb.Reader | None = current_app.extensions.get(GEOIP)
    if reader is None:
        return None
    try:
        record = reader.get(str(network.network_address))
    except ValueError:  # an IPv6 prefix against an IPv4-only database
        return None
    if not isinstance(record, dict):
        return None
    names = [local_name(record.get(part)) for part in ("city", "country")]
    return ", ".join(n for n in names if n) or None


def local_name(entry: Any) -> str:
    """The name in the page's language, else in English (the databases' fallback)."""
    names = entry.get("names") if isinstance(entry, dict) else None
    if not isinstance(names, dict):
        return ""
    name = names.get(str(get_locale() or "en")) or names.get("en") or ""
    return str(name)


def open_geoip(app: Flask) -> None:
    """Open the GeoIP database once per process; an unreadable one stops the start."""
    path = app.extensions["idp.settings"].geoip_database
    if not path:
        return
    try:
        app.extensions[GEOIP] = maxminddb.open_database(path)
    except (OSError, maxminddb.InvalidDatabaseError) as exc:
        raise ConfigError(f"IDP_GEOIP_DATABASE cannot be read ({type(exc).__name__}).") from exc
