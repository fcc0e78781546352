"""The URIs in a platform's metadata (RFC 7591 2, OIDC Registration 2, Back-Channel
Logout 1.0 2.2, RP-Initiated Logout 1.0 3.1): each one parsed in one place, so that an
unparsable one (``http://[::1``, ``http://[127.0.0.1]/``, a bad port) is refused with the
field's error instead of failing the request; and the ones the provider fetches or posts
to checked against the outbound policy (``idp.addresses``) already at registration."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from flask import current_app

from clients.errors import ClientMetadataError
from idp.addresses import AddressRefused, validate_host
from idp.settings import is_loopback

MAX_URI = 500
MAX_REDIRECT_URIS = 20
# OIDC Registration 2: how the platform's software runs; "web" is the default.
APPLICATION_TYPES = ("web", "native")
# RFC 8252 7.1: a private-use scheme in reverse domain notation (RFC 3986 3.1 syntax,
# with at least one dot), so that it cannot be http, https, javascript, data or file.
PRIVATE_USE_SCHEME = re.compile(r"[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+")


def parse(uri: str, error: str, name: str) -> SplitResult:
    """An absolute http(s) URL with a host, or ``ClientMetadataError(error)``."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises ValueError on a port out of range or not a number)
    except ValueError:
        raise ClientMetadataError(error, f"{name} is not a valid URL.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ClientMetadataError(error, f"{name} must be an absolute URL.")
    return parts


def allows_http(host: str) -> bool:
    """Plain http only to this machine (RFC 8252 7.3), and never in production."""
    settings = current_app.extensions["idp.settings"]
    return is_loopback(host) and not settings.is_production


def validate_redirect_uri(uri: str, application_type: str = "web") -> None:
    """Absolute, no fragment (RFC 6749 3.1.2), at most ``MAX_URI`` characters; then the
    rules of the application type."""
    if "#" in uri:
        raise ClientMetadataError("invalid_redirect_uri", f"{uri}: a fragment is not allowed.")
    if len(uri) > MAX_URI:
        raise ClientMetadataError("invalid_redirect_uri",
                                  f"a redirect URI has at most {MAX_URI} characters.")
    if application_type == "native":
        validate_native_redirect_uri(uri)
        return
    parts = parse(uri, "invalid_redirect_uri", uri)
    if parts.scheme == "http" and not allows_http(parts.hostname or ""):
        raise ClientMetadataError("invalid_redirect_uri", f"{uri}: must use https.")


def is_private_use(uri: str) -> bool:
    """RFC 8252 7.1: ``org.example.app:/cb``; no ``//host`` is needed."""
    scheme, colon, _ = uri.partition(":")
    return bool(colon) and PRIVATE_USE_SCHEME.fullmatch(scheme.lower()) is not None


def is_loopback_literal(host: str) -> bool:
    """RFC 8252 7.3 and 8.3: an IP literal of the loopback interface, never ``localhost``
    (a name that a hostile resolver or hosts file can point elsewhere)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_native_redirect_uri(uri: str) -> None:
    """A native app (RFC 8252 7) receives its code at a private-use scheme, a claimed
    https URI, or http on the loopback IP literal, in production too: the port is the
    app's to choose at each login (matched at authorization time)."""
    if is_private_use(uri):
        return
    parts = parse(uri, "invalid_redirect_uri", uri)
    if parts.scheme == "http" and not is_loopback_literal(parts.hostname or ""):
        raise ClientMetadataError(
            "invalid_redirect_uri",
            f"{uri}: a native app uses https, a private-use scheme (com.example.app:/cb) or "
            "http on 127.0.0.1 or [::1].")


def validate_post_logout_redirect_uris(uris: list[str], application_type: str = "web") -> None:
    """RP-Initiated Logout 1.0 3.1: the same rules as redirect URIs; a bad one is
    invalid_client_metadata, since invalid_redirect_uri names the redirect_uris field."""
    if len(uris) > MAX_REDIRECT_URIS:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"at most {MAX_REDIRECT_URIS} post_logout_redirect_uris.")
    for uri in uris:
        try:
            validate_redirect_uri(uri, application_type)
        except ClientMetadataError as error:
            raise ClientMetadataError("invalid_client_metadata",
                                      f"post_logout_redirect_uris: {error.description}") from None


def validate_web_uri(name: str, uri: str | None) -> None:
    if uri is None:
        return
    parts = parse(uri, "invalid_client_metadata", name)
    if parts.scheme == "http" and not allows_http(parts.hostname or ""):
        raise ClientMetadataError("invalid_client_metadata", f"{name} must use https.")
    if len(uri) > MAX_URI:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"{name} has at most {MAX_URI} characters.")


def validate_fetched_uri(name: str, uri: str | None) -> None:
    """A URI the provider itself fetches or posts to: a web URI whose host is not, and
    does not resolve now to, a loopback (in production), private, link-local or
    metadata address, in any spelling (``idp.addresses``). Fetches check again."""
    validate_web_uri(name, uri)
    if uri is None:
        return
    settings = current_app.extensions["idp.settings"]
    try:
        validate_host(urlsplit(uri).hostname or "",
                      allow_loopback=settings.allows_loopback_fetches)
    except AddressRefused:
        raise ClientMetadataError(
            "invalid_client_metadata",
            f"{name} must be on a public address, not a private, loopback or link-local "
            "one.") from None
