"""The one way the provider reaches an address a platform chose: its sector identifier
document (OIDC Core 8.1), its JWKS (RFC 7523, OIDC Core 9), its back-channel logout
endpoint (Back-Channel Logout 1.0 2.5) and its security event endpoint (RFC 8935).

Each request resolves the host itself and connects to the address it checked
(``idp.addresses``), so a DNS answer cannot change between the check and the connection;
TLS still verifies the certificate against the host name. No redirect is followed, no
proxy or ``.netrc`` from the environment is used, connect and reads are bounded in time,
the body in size, and the number of requests in flight per process: when every slot is
busy a request fails at once instead of queueing. Errors never carry the remote status
or body (a platform would use them to scan our network), only an exception class name,
for the logs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlencode

import requests
from flask import current_app
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from idp.addresses import AddressRefused, Unresolved, resolve

MAX_BYTES = 64 * 1024  # a sector document or a JWKS
SLOTS = 8  # requests in flight per process
SLOT_WAIT = 0.05  # seconds a request waits for a free slot before giving up
DEFAULT_PORTS = {"http": 80, "https": 443}
HEADERS = {"Accept-Encoding": "identity", "User-Agent": "Mobility-ID"}


class FetchError(Exception):
    """Nothing usable came back. ``reason`` names what went wrong, for the logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Busy(FetchError):
    """Every outbound slot of this process is in use: try again later."""

    def __init__(self) -> None:
        super().__init__("Busy")


@dataclass(frozen=True)
class Policy:
    allow_loopback: bool
    timeout: float  # seconds to connect, and between two reads; twice that for a body


def policy() -> Policy:
    settings = current_app.extensions["idp.settings"]
    return Policy(settings.allows_loopback_fetches, float(settings.outbound_timeout))


class PinnedAdapter(HTTPAdapter):
    """Connects to the address ``idp.addresses`` checked, not to a second DNS answer.
    The technique of requests-hardened's IPFilterAdapter: the pool's host becomes the
    checked address, while the Host header, SNI and certificate check keep the name."""

    def __init__(self, allow_loopback: bool) -> None:
        super().__init__(max_retries=0)
        self.allow_loopback = allow_loopback

    def build_connection_pool_key_attributes(
            self, request: requests.PreparedRequest, verify: bool | str,
            cert: str | tuple[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        name, port = host_params["host"], host_params["port"]
        scheme = host_params["scheme"]
        address = resolve(name, port or DEFAULT_PORTS[scheme],
                          allow_loopback=self.allow_loopback)[0]
        request.headers = CaseInsensitiveDict(request.headers or {})
        shown = f"[{name}]" if ":" in name else name
        request.headers["Host"] = f"{shown}:{port}" if port else shown
        if scheme == "https":
            pool_kwargs["assert_hostname"] = name
            pool_kwargs["server_hostname"] = name
        host_params["host"] = f"[{address}]" if address.version == 6 else str(address)
        return host_params, pool_kwargs


def new_session(rules: Policy | None = None) -> requests.Session:
    """A session that reaches only what ``rules`` allow (the app's policy by default)."""
    rules = rules or policy()
    session = requests.Session()
    # An environment proxy would connect elsewhere than the address checked, and .netrc
    # credentials must never go to a platform.
    session.trust_env = False
    session.max_redirects = 0
    # Nothing a platform sets is kept, nor sent to another platform.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = PinnedAdapter(rules.allow_loopback)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class Outbound:
    """Per-app state: the slots shared by every outbound request of the process."""

    slots: threading.BoundedSemaphore

    @classmethod
    def create(cls) -> Outbound:
        return cls(threading.BoundedSemaphore(SLOTS))


def state() -> Outbound:
    found: Outbound | None = current_app.extensions.get("idp.outbound")
    return found or current_app.extensions.setdefault("idp.outbound", Outbound.create())


@contextmanager
def slot(wait: float = SLOT_WAIT) -> Iterator[None]:
    """Hold one of the process's outbound slots; ``Busy`` if none frees within ``wait``."""
    slots = state().slots
    if not slots.acquire(timeout=wait):
        raise Busy()
    try:
        yield
    finally:
        slots.release()


@contextmanager
def guarded(session: requests.Session | None, uri: str) -> Iterator[requests.Session]:
    """The caller's session (one from ``new_session``) or a new one; every failure
    becomes a ``FetchError``."""
    http = session or new_session()
    try:
        if not isinstance(http.get_adapter(uri), PinnedAdapter):
            raise TypeError("an outbound request needs a session from new_session()")
        yield http
    except (requests.RequestException, AddressRefused, Unresolved, OSError) as exc:
        raise FetchError(type(exc).__name__) from None
    finally:
        if session is None:
            http.close()


def get(uri: str, *, accept: str = "application/json", limit: int = MAX_BYTES,
        session: requests.Session | None = None, wait: float = SLOT_WAIT) -> bytes:
    """GET ``uri``: a 200 answer's body, at most ``limit`` bytes, or ``FetchError``."""
    timeout = policy().timeout
    with slot(wait), guarded(session, uri) as http, http.get(
            uri, headers={**HEADERS, "Accept": accept}, timeout=(timeout, timeout),
            allow_redirects=False, stream=True) as response:
        if response.status_code != 200:
            raise FetchError("UnexpectedStatus")
        return read_body(response, limit, time.monotonic() + 2 * timeout)


def read_body(response: requests.Response, limit: int, deadline: float) -> bytes:
    """The body, refused past ``limit`` bytes or ``deadline``: a read timeout alone lets
    a server hold us by sending one byte at a time."""
    chunks, size = [], 0
    for chunk in response.iter_content(8192):
        size += len(chunk)
        if size > limit:
            raise FetchError("TooLarge")
        if time.monotonic() > deadline:
            raise FetchError("TooSlow")
        chunks.append(chunk)
    return b"".join(chunks)


def post_form(uri: str, form: Mapping[str, str], *, session: requests.Session | None = None,
              wait: float = SLOT_WAIT) -> int:
    """POST a form to ``uri`` and return the status (see :func:`post_body`)."""
    return post_body(uri, urlencode(form), "application/x-www-form-urlencoded",
                     session=session, wait=wait)


def post_body(uri: str, body: str, media_type: str, *,
              session: requests.Session | None = None, wait: float = SLOT_WAIT) -> int:
    """POST ``body`` as ``media_type`` to ``uri`` and return the status; the answer's
    body is never read, so a platform cannot make us download much. Redirects are not
    followed."""
    timeout = policy().timeout
    with slot(wait), guarded(session, uri) as http:
        response = http.post(uri, data=body.encode(),
                             headers={**HEADERS, "Content-Type": media_type},
                             timeout=(timeout, timeout), allow_redirects=False, stream=True)
        response.close()
        return response.status_code
