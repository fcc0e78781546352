"""HTTP Basic client authentication (RFC 6749 2.3.1), parsed strictly and in one place
for every endpoint that authenticates platforms: token, revocation, introspection and
the consent records.

Authlib's own parser lets a header that is not base64 of UTF-8 raise (a 500); here any
malformed Basic header is ``invalid_client`` with 401 and ``WWW-Authenticate: Basic``
(RFC 6749 5.2), and the answer never repeats what was sent."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import InvalidClientError

from idp.guard import is_storable

METHOD = "client_secret_basic"


def malformed() -> InvalidClientError:
    return InvalidClientError(
        status_code=401, description="The Authorization header is not valid HTTP Basic.")


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from ``Basic base64(id:secret)``, each part
    form-urlencoded (RFC 6749 2.3.1); None without a Basic header."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise malformed() from None
    client_id, colon, secret = decoded.partition(":")
    client_id, secret = unquote(client_id), unquote(secret)
    if not colon or not client_id or not is_storable(client_id) or not is_storable(secret):
        raise malformed()
    return client_id, secret


def basic_authenticates(client: Any, secret: str, endpoint: str) -> bool:
    """What Authlib's client authentication asks of the platform a Basic header names:
    its secret, and Basic among the methods it may use at ``endpoint``."""
    return (bool(secret) and client.check_client_secret(secret)
            and client.check_endpoint_auth_method(METHOD, endpoint))


def authenticate_client_secret_basic(query_client: Any, request: Any) -> Any:
    """Authlib's ``client_secret_basic`` method, with the strict parser above."""
    credentials = parse_basic(request.headers.get("Authorization"))
    if credentials is None or not credentials[1]:
        return None
    client = query_client(credentials[0])
    if client is None:
        raise InvalidClientError(status_code=401,
                                 description="The client does not exist on this server.")
    return client if client.check_client_secret(credentials[1]) else None
