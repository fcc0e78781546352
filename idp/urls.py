"""Absolute URLs of the provider, always under its issuer, never under the request's Host.

A link in a mail or a document is built from ``IDP_ISSUER`` alone (scheme, host, port
and path): a forged ``Host`` or ``X-Forwarded-Host`` header cannot turn a password reset
link into one that leads to an attacker's site (OWASP "Host header injection"), and a
provider behind a TLS-terminating proxy still writes ``https://`` links.

Requests themselves must name the issuer's host: ``trusted_hosts`` feeds Flask's
``TRUSTED_HOSTS`` and a request for any other Host is refused with 400."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter

from idp.settings import Settings


def issuer_adapter() -> MapAdapter:
    """The URL map bound to the issuer's scheme, host and path, not to any request."""
    parts = urlsplit(current_app.extensions["idp.settings"].issuer)
    return current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme,
    )


def issuer_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under the issuer: for mail and documents."""
    url: str = issuer_adapter().build(endpoint, values, force_external=True)
    return url


def trusted_hosts(settings: Settings) -> list[str]:
    """The issuer's host name, then ``IDP_EXTRA_HOSTS`` (internal names such as the
    ``localhost`` of a container's health check). Ports are not compared (werkzeug)."""
    host = urlsplit(settings.issuer).hostname
    assert host is not None  # validate_issuer refused an issuer without one
    return [host, *settings.extra_hosts]
