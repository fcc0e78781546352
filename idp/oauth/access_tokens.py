"""JWT access tokens (RFC 9068), for the platforms that chose them.

Every access token, opaque or JWT, is stored by its digest and checked against the stored
row at userinfo and introspection: a JWT access token can be revoked like any other."""

from __future__ import annotations

import secrets
import time
from typing import Any, Protocol

from flask import current_app
from joserfc import jwt

from idp.accounts.models import User
from idp.keys import key_store
from idp.oauth.models import JWT_ACCESS_TOKENS, Client
from idp.oauth.subjects import subject_for

# RFC 9068 2.1: the media type that keeps an access token from passing for an ID token.
TYPE = "at+jwt"


class AuthContext(Protocol):
    """The authentication a grant carries on: its code, or the token being refreshed."""

    @property
    def auth_time(self) -> Any: ...
    @property
    def acr(self) -> str | None: ...
    @property
    def amr(self) -> list[str]: ...


def wants_jwt(client: Client) -> bool:
    return client.access_token_format == JWT_ACCESS_TOKENS


def generate_client_access_token(client: Client, scope: str, expires_in: int) -> str:
    """An RFC 9068 access token of the client credentials grant: no resource owner, so
    ``sub`` is the client's own id (2.2) and there is no authentication to describe."""
    return sign(client, required_claims(client, client.client_id, scope, expires_in))


def sign(client: Client, claims: dict[str, Any]) -> str:
    alg = client.id_token_signed_response_alg
    key = key_store().signing_key(alg)
    header = {"typ": TYPE, "alg": alg, "kid": str(key.kid)}
    return jwt.encode(header, claims, key, algorithms=[alg])


def required_claims(client: Client, sub: str, scope: str, expires_in: int) -> dict[str, Any]:
    """RFC 9068 2.2: the claims every access token carries."""
    now = int(time.time())
    return {
        "iss": str(current_app.extensions["idp.settings"].issuer),
        "exp": now + expires_in,
        "aud": client.client_id,
        "sub": sub,
        "client_id": client.client_id,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
    }


def access_token_claims(client: Client, user: User, scope: str, expires_in: int,
                        context: AuthContext) -> dict[str, Any]:
    """RFC 9068 2.2: the required claims, then the authentication ones when known."""
    claims = required_claims(client, subject_for(user, client), scope, expires_in)
    if context.auth_time is not None:
        claims["auth_time"] = int(context.auth_time.timestamp())
    if context.acr:
        claims["acr"] = context.acr
    if context.amr:
        claims["amr"] = list(context.amr)
    return claims
