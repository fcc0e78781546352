"""Request objects (RFC 9101 JAR, OIDC Core 6.1): the authorization request as a JWT the
platform signed with a key it registered (``jwks`` or ``jwks_uri``). Only the parameters
inside count (RFC 9101 6.3); ``client_id`` and ``response_type`` sent beside it must
agree with it. Unsigned objects (``alg: none``) only for a client whose registered
``request_object_signing_alg`` the operator set to ``none``. An object with a ``jti`` is
used once: a second use, while the object is still valid, is refused (RFC 9101 10.8), on
every instance, since the ``jti`` is kept in the database until the object expires."""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from idp.digests import digest
from idp.extensions import db
from idp.keys import SUPPORTED_ALGS
from idp.oauth.assertions import client_keys
from idp.oauth.models import Client
from idp.oauth.replay import remember_once
from idp.types import UTCDateTime

Params = list[tuple[str, str]]
UNSIGNED = "none"
# RFC 9101 10.2 and FAPI 2.0: a request object lives minutes, never more than an hour.
MAX_LIFETIME = 3600
LEEWAY = 30  # seconds of clock difference tolerated
JWT_CLAIMS = ("iss", "aud", "exp", "nbf", "iat", "jti")
MUST_AGREE = ("client_id", "response_type")
NESTED = ("request", "request_uri")


class InvalidRequestObjectError(OAuth2Error):
    """RFC 9101 6.2 / OIDC Core 3.1.2.6."""

    error = "invalid_request_object"


class UsedRequestObject(db.Model):  # type: ignore[name-defined,misc]
    """A request object's ``jti`` seen, by digest with the client's id, until the object
    expires: a replay is refused even when racing on two instances (unique constraint)."""

    __tablename__ = "request_object_jti"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def unpack(value: str, client: Client, outer: Params, redirect_uri: str | None) -> Params:
    """The authorization parameters of the request object ``value`` sent by ``client``,
    beside the ``outer`` parameters; errors go to ``redirect_uri`` (a page when None)."""

    def refuse(description: str) -> InvalidRequestObjectError:
        return InvalidRequestObjectError(description, redirect_uri=redirect_uri)

    try:
        claims = decode(value, client)
        validate_claims(claims, client)
        params = merged(as_params(claims), client, dict(outer))
        remember_jti(claims, client)
        return params
    except ValueError as exc:
        raise refuse(str(exc)) from None


def decode(value: str, client: Client) -> dict[str, Any]:
    """The claims, once the signature is verified with the client's registered keys."""
    parts = value.split(".")
    if len(parts) == 5:
        raise ValueError("Encrypted request objects are not supported.")
    if len(parts) != 3:
        raise ValueError("The request object is not a compact JWS.")
    alg = json_part(parts[0]).get("alg")
    if alg == UNSIGNED:
        if client.request_object_signing_alg != UNSIGNED or parts[2]:
            raise ValueError("Unsigned request objects are not accepted from this client.")
        return json_part(parts[1])
    if alg not in SUPPORTED_ALGS or client.request_object_signing_alg not in (None, alg):
        raise ValueError("The request object's signing algorithm is not accepted.")
    return verified_claims(value, client, alg)


def verified_claims(value: str, client: Client, alg: str) -> dict[str, Any]:
    try:
        keys = client_keys(client)
    except InvalidClientError as error:
        raise ValueError(error.description) from None
    try:
        return dict(jwt.decode(value, keys, algorithms=[alg]).claims)
    except (JoseError, ValueError, TypeError) as exc:
        current_app.logger.info("request object of %s refused: %s", client.client_id,
                                type(exc).__name__)
        raise ValueError("The request object's signature is not valid.") from None


def json_part(part: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        raise ValueError("The request object cannot be read.") from None
    if not isinstance(value, dict):
        raise ValueError("The request object cannot be read.")
    return value


def validate_claims(claims: dict[str, Any], client: Client) -> None:
    """RFC 9101 4 and 10.2: issued by the client, for this provider, short-lived; the
    times are whole seconds. No request object inside a request object (RFC 9101 4)."""
    issuer = current_app.extensions["idp.settings"].issuer
    audience = claims.get("aud")
    if claims.get("iss") != client.client_id:
        raise ValueError("The request object's 'iss' must be the client_id.")
    if audience != issuer and not (isinstance(audience, list) and issuer in audience):
        raise ValueError("The request object's 'aud' must be the issuer.")
    now = int(time.time())
    exp, nbf, iat = (seconds(claims, name) for name in ("exp", "nbf", "iat"))
    if exp is None or exp <= now - LEEWAY:
        raise ValueError("The request object has expired or has no 'exp'.")
    if exp > now + MAX_LIFETIME + LEEWAY:
        raise ValueError("The request object's 'exp' is more than an hour ahead.")
    if nbf is not None and not now - MAX_LIFETIME <= nbf <= now + LEEWAY:
        raise ValueError("The request object's 'nbf' is not within the last hour.")
    if iat is not None and iat > now + LEEWAY:
        raise ValueError("The request object's 'iat' is in the future.")
    if any(name in claims for name in NESTED):
        raise ValueError("A request object cannot hold 'request' or 'request_uri'.")


def remember_jti(claims: dict[str, Any], client: Client) -> None:
    """RFC 9101 10.8: an object carrying a ``jti`` is used once while it is valid (the
    row lives until ``exp``, plus the clock leeway under which it is still accepted)."""
    jti = claims.get("jti")
    if jti is None:
        return
    if not isinstance(jti, str) or not 0 < len(jti) <= 256 or not jti.isprintable():
        raise ValueError("The request object's 'jti' must be a short printable string.")
    expires_at = datetime.fromtimestamp(claims["exp"] + LEEWAY, UTC)
    seen = UsedRequestObject(jti_hash=digest(f"{client.client_id}:{jti}"),
                             expires_at=expires_at)
    if not remember_once(seen):
        raise ValueError("The request object was already used (its 'jti' was seen).")


def seconds(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"The request object's '{name}' must be a whole number.")
    return value


def as_params(claims: dict[str, Any]) -> Params:
    """Authorization parameters as the query would carry them: strings; numbers written
    out (max_age); the ``claims`` member as its JSON text (OIDC Core 6.1)."""
    params: Params = []
    for name, value in claims.items():
        if name in JWT_CLAIMS:
            continue
        if isinstance(value, str):
            params.append((name, value))
        elif isinstance(value, int) and not isinstance(value, bool):
            params.append((name, str(value)))
        elif isinstance(value, dict) and name == "claims":
            params.append((name, json.dumps(value)))
        else:
            raise ValueError("A request object member has a value of the wrong type.")
    return params


def merged(inner: Params, client: Client, outer: dict[str, str]) -> Params:
    """The object's parameters replace the query's (RFC 9101 6.3). ``client_id`` and
    ``response_type``, when sent both ways, must agree (RFC 9101 5, OIDC Core 6.1); sent
    only outside, they are kept, since OIDC requires them there."""
    found = dict(inner)
    outer = {**outer, "client_id": client.client_id}
    for name in MUST_AGREE:
        if name in found and name in outer and found[name] != outer[name]:
            raise ValueError(f"'{name}' differs inside and outside the request object.")
    kept = [(name, outer[name]) for name in MUST_AGREE if name in outer and name not in found]
    return kept + inner
