"""How the national platform's API accepts a Mobility ID access token (RFC 6750 bearer):
an RFC 9068 JWT signed by the provider, for this API, still active at the provider, and
carrying the action asked."""

from __future__ import annotations

from typing import Any

import requests
from flask import request
from joserfc import jwt
from joserfc.errors import JoseError

from clients.demo_platform.app import platform
from clients.demo_platform.jwts import LEEWAY, TokenError, decode

TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 2.1


class BearerError(Exception):
    """RFC 6750 3.1: the answer's status, error code (none when no token came) and why."""

    def __init__(self, status: int, error: str | None, description: str = "",
                 scope: str | None = None) -> None:
        super().__init__(description)
        self.status, self.error, self.description, self.scope = status, error, description, scope

    def challenge(self) -> str:
        """The WWW-Authenticate header's value."""
        params = {"realm": platform().config.api, "error": self.error,
                  "error_description": self.description, "scope": self.scope}
        return "Bearer " + ", ".join(f'{k}="{v}"' for k, v in params.items() if v)


def authorize(action: str) -> dict[str, Any]:
    """The token's claims when it may do ``action`` here; else raises BearerError."""
    token = bearer_token()
    claims = verify(token)
    if not is_active(token):  # a stopped delegation: refused now, not when the JWT expires
        raise BearerError(401, "invalid_token", "The token is no longer active.")
    if action not in str(claims.get("scope", "")).split():
        raise BearerError(403, "insufficient_scope", f"This needs {action}.", scope=action)
    return claims


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerError(401, None)
    return token.strip()


def verify(token: str) -> dict[str, Any]:
    """RFC 9068 4: the signature against the provider's /jwks.json, the type, the
    issuer, this API as the audience, the expiry, a subject."""
    oidc = platform().oidc
    metadata = oidc.load_server_metadata()
    try:
        decoded = decode(token, lambda force: oidc.fetch_jwk_set(force=force),
                         metadata.get("id_token_signing_alg_values_supported", ["RS256"]))
    except TokenError as error:
        raise BearerError(401, "invalid_token", "The token is not the provider's.") from error
    if decoded.header.get("typ") not in TOKEN_TYPES:
        raise BearerError(401, "invalid_token", "This is not an access token.")
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY, iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": str(platform().config.api)},
        exp={"essential": True}, sub={"essential": True})
    try:
        registry.validate(decoded.claims)
    except JoseError as error:
        raise BearerError(401, "invalid_token", f"Refused: {error.error}.") from error
    return dict(decoded.claims)


def is_active(token: str) -> bool:
    """RFC 7662: the provider says whether the token still holds (not revoked)."""
    state = platform()
    endpoint = state.oidc.load_server_metadata()["introspection_endpoint"]
    try:
        answer = requests.post(endpoint, data={"token": token, "token_type_hint": "access_token"},
                               auth=(state.config.client_id, state.config.client_secret),
                               timeout=10)
        answer.raise_for_status()
        return answer.json().get("active") is True
    except (requests.RequestException, ValueError) as error:
        raise BearerError(503, "temporarily_unavailable",
                          "Mobility ID does not answer.") from error
