"""The client credentials grant (RFC 6749 4.4): a platform's server gets an access token
for itself, to call the provider (its consent records) without sending its secret on
every call. Only confidential clients registered for the grant, only platform scopes
(``idp.oauth.platform_tokens.PLATFORM_SCOPES``), never a refresh or an ID token."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidScopeError, UnauthorizedClientError, grants, scope_to_list
from flask import current_app

from idp.digests import digest, generate_secret
from idp.extensions import insert_and_commit
from idp.oauth.access_tokens import generate_client_access_token, wants_jwt
from idp.oauth.grants import CLIENT_AUTH_METHODS
from idp.oauth.models import Client
from idp.oauth.platform_tokens import GRANT_TYPE, PLATFORM_SCOPES, PlatformToken


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 4.4 with every client authentication the token endpoint has. ``none``
    is among them only so that a public client hears ``unauthorized_client`` (4.4: the
    grant MUST only be used by confidential clients) rather than ``invalid_client``."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        # Checks, in order: the client authenticates; it is confidential; it registered
        # the grant (RFC 7591 2); every scope asked is a platform scope (RFC 6749 3.3).
        client: Client = self.authenticate_token_endpoint_client()
        if client.is_public:
            raise UnauthorizedClientError(
                "The client_credentials grant is for confidential clients only.")
        if not client.check_grant_type(GRANT_TYPE):
            raise UnauthorizedClientError(
                "The client is not registered for the client_credentials grant.")
        self.request.client = client
        granted_scope(self.request.payload.scope)

    def save_token(self, token: dict[str, Any]) -> None:
        insert_and_commit(PlatformToken, platform_token_row(self.request.client.client_id,
                                                            token))


def platform_token_row(client_id: str, token: dict[str, Any]) -> dict[str, Any]:
    """What is stored of a platform's token: the digest only, in the platform tokens'
    own table."""
    return {"client_id": client_id, "access_token_hash": digest(token["access_token"]),
            "scope": token["scope"], "expires_in": token["expires_in"]}


def granted_scope(requested: str | None) -> str:
    """Platform scopes only: a traveller's scope (``openid``, ``email``...) asks for data
    no traveller agreed to give here, so it is ``invalid_scope``. Without a scope, every
    platform scope, the default RFC 6749 3.3 lets the server define."""
    scopes = list(dict.fromkeys(scope_to_list(requested or "")))
    if not scopes:
        return " ".join(PLATFORM_SCOPES)
    if any(scope not in PLATFORM_SCOPES for scope in scopes):
        raise InvalidScopeError(
            "Only platform scopes may be asked with client_credentials: "
            + " ".join(PLATFORM_SCOPES) + ".")
    return " ".join(scopes)


def generate_platform_token(grant_type: str, client: Client, user: Any = None,
                            scope: str | None = None, expires_in: int | None = None,
                            include_refresh_token: bool = False,
                            lifetime: int | None = None) -> dict[str, Any]:
    """The token generator of the grant (RFC 6749 4.4.3): an access token alone, random
    or an RFC 9068 JWT as the client chose, never a refresh token. ``lifetime``: the
    setting's, when the caller has it at hand."""
    granted = granted_scope(scope)
    lifetime = (expires_in or lifetime
                or current_app.extensions["idp.settings"].access_token_lifetime)
    if wants_jwt(client):
        access_token = generate_client_access_token(client, granted, lifetime)
    else:
        access_token = generate_secret(32)
    return {"token_type": "Bearer", "access_token": access_token, "expires_in": lifetime,
            "scope": granted}
