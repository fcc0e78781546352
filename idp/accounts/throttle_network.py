"""Failed sign-ins per client network, without shutting out everyone behind it.

Many travellers sign in from one network: a solidarity-mobility office, a social centre,
a mobile operator's carrier-grade NAT. A network over its limit (``IP_LIMITS`` failed
checks of a secret, across all accounts) therefore does not refuse every attempt: it
refuses (429) only the accounts that already failed from this network within
``MARK_LIFETIME``. A right secret for any other account passes; a wrong one is recorded,
so a password sprayer over the limit gets at most one guess per account and per window
from this network, which the per-account delays (``idp.accounts.throttle``) then cover.

The mark is keyed by an HMAC of the normalized address and the network under the app's
secret key: the storage never holds an address, and an unknown address is marked exactly
like a known one (no enumeration, the same answer in the same time)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time

from flask import current_app, request
from limits import RateLimitItem, parse_many
from limits.strategies import MovingWindowRateLimiter

from idp.accounts.service import normalize_email
from idp.accounts.throttle_refusals import NetworkRefused, storage
from idp.addresses import parse_peer

IP_LIMITS = ["30 per 5 minutes", "100 per hour"]
WINDOWS: list[RateLimitItem] = parse_many("; ".join(IP_LIMITS))
MARK_LIFETIME = max(item.get_expiry() for item in WINDOWS)  # the longest window
PREFIX = "idp-throttle"


def network_key() -> str:
    """The client's network: its IPv4 address, or the /64 of an IPv6 address, since one
    subscriber usually holds a whole /64."""
    ip = parse_peer(request.remote_addr)
    if ip is None:
        return "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def validate_network(group: str, email: str) -> None:
    """Raise ``NetworkRefused`` when this network is over its limit and this account
    (its ``group`` of secrets: password or second factor) already failed from it."""
    mark = mark_key(group, email)
    if not storage().get(mark):
        return
    waits = [_reset_in(item) for item in WINDOWS if not _windows().test(item, *_network())]
    if waits:
        held = math.ceil(storage().get_expiry(mark) - time.time())
        raise NetworkRefused(min(max(waits), held))


def record_failure(group: str, email: str) -> None:
    """A secret checked and wrong: it counts in the network's windows, and marks this
    account as having failed from this network."""
    for item in WINDOWS:
        _windows().hit(item, *_network())
    mark = mark_key(group, email)
    store = storage()
    store.clear(mark)  # a new failure: the mark lasts a full window from now
    store.incr(mark, MARK_LIFETIME)


def forget(group: str, email: str) -> None:
    """A success: the account no longer counts as failing from this network."""
    storage().clear(mark_key(group, email))


def network_id() -> str:
    """The network as the storage knows it: an HMAC, so that it holds no IP address."""
    return _mac(f"network\n{network_key()}")


def mark_key(group: str, email: str) -> str:
    """HMAC of the normalized address and the network: the storage never sees either."""
    mac = _mac(f"{normalize_email(email)}\n{network_key()}")
    return f"{PREFIX}:network-mark:{group}:{mac}"


def _mac(message: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()[:40]


def _network() -> tuple[str, str]:
    return (f"{PREFIX}:network-failures", network_id())


def _windows() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage())


def _reset_in(item: RateLimitItem) -> int:
    reset_at, _ = _windows().get_window_stats(item, *_network())
    return math.ceil(reset_at - time.time())
