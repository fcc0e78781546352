"""X-Forwarded-For and -Proto, believed only from the operator's own reverse proxies.

werkzeug's ProxyFix believes the last ``n`` hops of X-Forwarded-For whoever sent the
request: a client reaching gunicorn directly (a port left open, a misrouted load
balancer) could write any address there and dodge the per-network throttle at will.
``TrustedProxyFix`` applies ProxyFix only when the immediate peer (REMOTE_ADDR, the
socket's address, which a client cannot forge over TCP) is in ``IDP_TRUSTED_PROXY_ADDRESSES``;
from anyone else the forwarding headers are removed, so that nothing downstream (werkzeug's
``access_route`` included) can read them."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.middleware.proxy_fix import ProxyFix

from idp.addresses import parse_peer
from idp.settings import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                     "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.1/32, ::1, 10.0.0.0/8"`` as networks; a bare address is a network of one."""
    try:
        networks = tuple(ipaddress.ip_network(part.strip()) for part in value.split(",")
                         if part.strip())
    except ValueError as exc:
        raise ConfigError("IDP_TRUSTED_PROXY_ADDRESSES must list IP addresses or networks "
                          f"(CIDR), separated by commas: {exc}.") from exc
    if not networks:
        raise ConfigError("IDP_TRUSTED_PROXIES needs IDP_TRUSTED_PROXY_ADDRESSES, the "
                          "addresses of those proxies.")
    return networks


def check_trusted(address: str | None, networks: Iterable[IPNetwork]) -> bool:
    """Whether ``address`` is one of ours; an IPv4-mapped IPv6 address counts as IPv4."""
    ip = parse_peer(address)
    return ip is not None and any(ip in network for network in networks)


class TrustedProxyFix:
    """ProxyFix for requests from a trusted proxy; the headers dropped for the others."""

    def __init__(self, app: WSGIApplication, networks: tuple[IPNetwork, ...], hops: int) -> None:
        self.app = app
        self.proxied = ProxyFix(app, x_for=hops, x_proto=hops)
        self.networks = networks
        # The same few peers (the proxies) send nearly every request: each address is
        # parsed and looked up once, not at every request.
        self.trusted = functools.lru_cache(maxsize=1024)(self._trusted)

    def _trusted(self, address: str | None) -> bool:
        return check_trusted(address, self.networks)

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if self.trusted(environ.get("REMOTE_ADDR")):
            return self.proxied(environ, start_response)
        for name in FORWARDED_HEADERS:
            environ.pop(name, None)
        return self.app(environ, start_response)
