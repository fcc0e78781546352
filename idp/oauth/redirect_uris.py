"""Matching a requested redirect URI against a platform's registered ones: exact string
comparison (RFC 9700 2.1, 4.1.3), except the port of a loopback IP literal (RFC 8252 7.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# http, a loopback IP literal, an optional port, then the path and query. Only these two
# spellings: RFC 8252 7.3 names them, and 8.3 keeps `localhost` out (it may resolve
# elsewhere). The strict pattern leaves no room for user info, odd ports or a fragment.
LOOPBACK_URI = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::([1-9][0-9]{0,4}))?([/?][^#]*)?")
MAX_PORT = 65535


def check_redirect_uri(registered: Iterable[str], requested: str) -> bool:
    """No prefix, no pattern, no normalisation: private-use schemes (RFC 8252 7.1) and
    claimed https URIs (7.2) match exactly, loopback ones on any port."""
    registered = list(registered)
    if requested in registered:
        return True
    return any(matches_loopback(uri, requested) for uri in registered)


def matches_loopback(registered: str, requested: str) -> bool:
    """RFC 8252 7.3: a native app listens on a port the system gives it at run time, so on
    a loopback IP literal any port matches; scheme, address, path and query stay exact."""
    mine, theirs = LOOPBACK_URI.fullmatch(registered), LOOPBACK_URI.fullmatch(requested)
    if mine is None or theirs is None:
        return False
    if theirs.group(2) is not None and int(theirs.group(2)) > MAX_PORT:
        return False
    return mine.group(1, 3) == theirs.group(1, 3)
