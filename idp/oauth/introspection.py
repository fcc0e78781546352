"""Token introspection (RFC 7662) for authenticated platforms, about their own tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import current_app
from flask import request as flask_request

from idp.oauth.models import Client, Token, remember_client
from idp.oauth.platform_tokens import PlatformToken
from idp.oauth.resources import query_resource
from idp.oauth.revocation import find_token
from idp.oauth.subjects import subject_for

READ_FIRST = "idp.introspection.read_first"
# A public client holds no credential: it may not ask about tokens (RFC 7662 2.1).
INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


@dataclass
class IntrospectedToken:
    """One of a grant's two tokens, with the rules for whether it is still active."""

    row: Token | PlatformToken
    kind: str  # "access_token" or "refresh_token" (of a Token only)

    def check_client(self, client: Client) -> bool:
        return self.row.check_client(client)

    def is_revoked(self) -> bool:
        return self.row.is_revoked()

    def is_expired(self) -> bool:
        if self.kind == "refresh_token" and isinstance(self.row, Token):
            # A rotated refresh token is spent, as good as expired.
            return not self.row.is_refresh_token_active()
        return self.row.is_expired()

    @property
    def expires_at(self) -> int:
        when = None
        if self.kind == "refresh_token" and isinstance(self.row, Token):
            when = self.row.refresh_token_expires_at
        return int((when or self.row.expires_at).timestamp())

    @property
    def sub(self) -> str:
        """The traveller's `sub` at this platform; for a platform's own token, with no
        traveller, the platform's client_id, as in its JWT form (RFC 9068 2.2)."""
        if isinstance(self.row, Token):
            return subject_for(self.row.user, self.owner_platform())
        return self.row.client_id

    @property
    def audience(self) -> str:
        """RFC 8707: an exchanged token is for another platform's API; others for the
        platform itself."""
        if isinstance(self.row, Token) and self.row.audience:
            return self.row.audience
        return self.row.client_id

    def owner_platform(self) -> Client:
        """The platform whose `sub` the token carries: the API's for an exchanged token
        (issue 14, part 6), the token's own platform otherwise."""
        assert isinstance(self.row, Token)
        resource = query_resource(self.row.audience) if self.row.audience else None
        return resource.client if resource is not None else self.row.client

    def check_audience(self, client: Client) -> bool:
        """The platform serving the API an exchanged token is for may ask about it too
        (RFC 7662 2.1: the protected resource introspects)."""
        if not isinstance(self.row, Token) or not self.row.audience:
            return False
        resource = query_resource(self.row.audience)
        return resource is not None and resource.client_id == client.client_id


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662. A platform learns only about its own tokens: another's token is
    answered as inactive (2.2), so introspection reveals nothing across platforms."""

    CLIENT_AUTH_METHODS = INTROSPECTION_AUTH_METHODS

    def create_endpoint_response(self, request: OAuth2Request) -> Any:
        # The token is read with its platform before the platform authenticates, and a
        # platform asking about its own token is authenticated with that row (issue 13:
        # two round trips were one). Nothing is answered before the authentication and
        # the permission check; a platform asking about another's token is read as
        # before. Kept in the request's environ: this endpoint serves every request.
        token = request.payload.data.get("token")
        if isinstance(token, str) and token:
            found = find_token(token, lean=False)
            flask_request.environ[READ_FIRST] = (token, found)
            if found is not None:
                remember_client(found[0].client)
        return super().create_endpoint_response(request)

    def query_token(self, token_string: str,
                    token_type_hint: str | None) -> IntrospectedToken | None:
        token, found = flask_request.environ.get(READ_FIRST, (None, None))
        if token != token_string:
            found = find_token(token_string)
        return IntrospectedToken(*found) if found else None

    def check_permission(self, token: IntrospectedToken, client: Client, request: Any) -> bool:
        return token.check_client(client) or token.check_audience(client)

    def introspect_token(self, token: IntrospectedToken) -> dict[str, Any]:
        return introspection(token, str(current_app.extensions["idp.settings"].issuer),
                             token.sub)


def introspection(token: IntrospectedToken, issuer: str, sub: str) -> dict[str, Any]:
    """RFC 7662 2.2: what an active token's answer says (Flask's path, and
    ``idp.oauth.introspection_direct``)."""
    row = token.row
    answer = {
        "active": True,
        "scope": row.scope,
        "client_id": row.client_id,
        "sub": sub,
        "exp": token.expires_at,
        "iat": int(row.issued_at.timestamp()),
        "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
        "iss": issuer,
        "aud": token.audience,
    }
    if isinstance(row, Token) and row.audience:
        answer["act"] = {"sub": row.client_id}  # RFC 8693 4.1
    jkt = bound_key_of(token)
    if jkt is not None:
        # RFC 9449 6.2: the resource server learns which key the token is bound to.
        answer["cnf"] = {"jkt": jkt}
        if token.kind == "access_token":
            answer["token_type"] = "DPoP"
    return answer


def bound_key_of(token: IntrospectedToken) -> str | None:
    """The key a token is bound to: access tokens with a proof at issue, and refresh
    tokens of public clients only (RFC 9449 5: a confidential client's are not bound)."""
    row = token.row
    if not isinstance(row, Token) or row.dpop_jkt is None:
        return None
    if token.kind == "refresh_token" and not row.client.is_public:
        return None
    return row.dpop_jkt
