"""One Authlib AuthorizationServer per app, kept in ``app.extensions``."""

from __future__ import annotations

import functools
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector as _ResourceProtector
from authlib.integrations.flask_oauth2 import current_token
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.errors import ForbiddenError
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oidc.core import UserInfo
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from flask import Flask, current_app, g, has_request_context
from flask import request as flask_request
from sqlalchemy import bindparam

from idp.accounts.models import User
from idp.digests import digest, generate_secret
from idp.direct_sql import Columns, EntityRead
from idp.extensions import insert_and_commit
from idp.oauth import client_auth, dpop
from idp.oauth.assertions import METHOD as PRIVATE_KEY_JWT
from idp.oauth.assertions import PrivateKeyJWT
from idp.oauth.claims import user_claims
from idp.oauth.claims_request import requested, select
from idp.oauth.client_credentials import ClientCredentialsGrant, generate_platform_token
from idp.oauth.decisions import consent_step
from idp.oauth.grants import (
    AuthorizationCodeGrant,
    CodeChallenge,
    OpenIDCode,
    OpenIDRefresh,
    RefreshTokenGrant,
    save_spending,
    token_row,
)
from idp.oauth.introspection import IntrospectionEndpoint
from idp.oauth.models import (
    Client,
    Token,
    clients_read,
    token_read,
)
from idp.oauth.platform_tokens import GRANT_TYPE as CLIENT_CREDENTIALS
from idp.oauth.platform_tokens import PlatformTokenValidator
from idp.oauth.resources import InvalidTargetError
from idp.oauth.revocation import RevocationEndpoint
from idp.oauth.token_exchange import GRANT_TYPE as TOKEN_EXCHANGE
from idp.oauth.token_exchange import TokenExchangeGrant
from idp.settings import Settings
from idp.urls import issuer_url


class IssuerOAuth2Request(FlaskOAuth2Request):  # type: ignore[misc]
    """Authlib's request, whose ``uri`` is built from the issuer and the path, never from
    the Host header (RFC 7592's ``registration_client_uri`` is made of it), and without
    werkzeug's IRI decoding of the whole URL at every request (3 % of userinfo's CPU)."""

    def __init__(self, request: Any) -> None:
        query = request.environ.get("QUERY_STRING", "")
        uri = current_app.extensions["idp.settings"].issuer.rstrip("/") + request.path
        OAuth2Request.__init__(self, method=request.method, uri=f"{uri}?{query}" if query else uri,
                               headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class AuthorizationServer(_AuthorizationServer):
    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        # The authorize view hands over requests rebuilt from a pending interaction.
        if isinstance(request, OAuth2Request):
            return request
        return IssuerOAuth2Request(flask_request)

    def create_token_response(self, request: Any = None) -> Any:
        """A ``DPoP`` proof is validated before any grant runs (a bad proof must not
        spend the code), and binds the tokens issued to its key (RFC 9449 5)."""
        try:
            dpop.bind_request(dpop.thumbprint_of_request(
                flask_request.headers, flask_request.method, issuer_url("endpoints.token")))
            validate_resource_indicator()
        except (dpop.InvalidDPoPProofError, InvalidTargetError) as error:
            return self.handle_error_response(self.create_oauth2_request(request), error)
        return super().create_token_response(request)

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """Authlib quotes ``redirect_uri`` and ``response_type`` in its error descriptions,
        which RFC 6749 4.1.2.1 restricts to printable ASCII without ``"`` and ``\\``: a
        value outside that set made building the error raise (a 500). Such a value is
        refused here first, with a description that does not repeat it."""
        for name in ("redirect_uri", "response_type"):
            value = request.payload.data.get(name)
            if isinstance(value, str) and invalid_error_characters(value):
                raise InvalidRequestError(f"'{name}' holds characters that are not allowed.")
        return super().get_authorization_grant(request)


def validate_resource_indicator() -> None:
    """RFC 8707 2.2: a token for another platform's API comes from the token exchange
    (RFC 8693), which checks the traveller's delegation. The code and refresh grants
    issue tokens for the platform itself only: a ``resource`` sent to them is refused
    rather than ignored, so that no platform takes its own token for the API's."""
    grant_type = flask_request.form.get("grant_type")
    if "resource" in flask_request.form and grant_type != TOKEN_EXCHANGE:
        raise InvalidTargetError("Ask for a token for this resource with the token "
                                 "exchange grant.")


class ResourceProtector(_ResourceProtector):
    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        """Also accept the token in a form-encoded POST body (RFC 6750 2.2), as userinfo
        must (OIDC Core 5.3.1)."""
        if not request.headers.get("Authorization") and flask_request.method == "POST":
            token = flask_request.form.get("access_token")
            if token:
                return self.get_token_validator("bearer"), token
        if not request.headers.get("Authorization"):
            raise MissingTokenError()
        return super().parse_request_authorization(request)


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> Token | None:
        """The token, its traveller and platform, and the consent in force, in one
        query (issue 13): userinfo needs nothing more from the database."""
        read = token_read("access_token_hash", lean=True, extend=consent_step().join_in_force)
        found = read.first({"token_hash": digest(token_string)})
        if found is None:
            return None
        token, in_force = found
        g.idp_consent_in_force = tuple(in_force)
        return token

    def validate_token(self, token: Token | None, scopes: Any, request: Any) -> None:
        super().validate_token(token, scopes, request)
        if token is not None and token.dpop_jkt is not None:
            # RFC 9449 7.2: a bound token is not a bearer token.
            raise dpop.DPoPChallenge("invalid_token", "This access token needs DPoP.")


class DPoPTokenValidator(TokenValidator):
    """``Authorization: DPoP <token>`` with a proof of the token's key (RFC 9449 7.1)."""

    TOKEN_TYPE = "dpop"

    def validate_token(self, token: Token | None, scopes: Any, request: Any) -> None:
        BearerTokenValidator.validate_token(self, token, scopes, request)
        assert token is not None
        if token.dpop_jkt is None:
            raise dpop.DPoPChallenge("invalid_token", "This access token is not DPoP-bound.")
        access_token = flask_request.headers["Authorization"].split(None, 1)[1]
        try:
            jkt = dpop.thumbprint_of_request(flask_request.headers, flask_request.method,
                                             issuer_url("endpoints.userinfo"), access_token)
        except dpop.InvalidDPoPProofError as error:
            raise dpop.DPoPChallenge(error.error, str(error.description)) from None
        if jkt is None:
            raise dpop.DPoPChallenge("invalid_dpop_proof", "A DPoP proof is required.")
        if jkt != token.dpop_jkt:
            raise dpop.DPoPChallenge("invalid_dpop_proof",
                                     "The DPoP proof's key is not the token's.")


class MissingTokenError(ForbiddenError):
    """RFC 6750 3.1: a request with no token gets a bare challenge, without an error code."""

    error = "invalid_token"
    description = "An access token is required."

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("WWW-Authenticate", 'Bearer realm="userinfo"'),
            # RFC 9449 7.1: the DPoP scheme is offered too, with the algorithms accepted.
            ("WWW-Authenticate", f'DPoP algs="{" ".join(dpop.ALGORITHMS)}"'),
        ]
        return headers


class UserInfoEndpoint(_UserInfoEndpoint):
    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        token: Token = current_token._get_current_object()
        allowed = set(token.claims) & consent_step().released_claims(
            user, token.client, g.get("idp_consent_in_force"))
        wanted = requested(token.claims_request, "userinfo")
        # OIDC Core 5.5: a userinfo member adds to the scopes' claims, within the consent.
        claims = user_claims(user, token.client, scope.split(), allowed, asked=wanted or {})
        return UserInfo(claims if wanted is None else select(claims, wanted))

    def get_issuer(self) -> str:
        return str(current_app.extensions["idp.settings"].issuer)


def query_client(client_id: str) -> Client | None:
    """The platform, read once per request however many steps ask for it (client
    authentication, the grant, the access log: issue 13 found up to 3 reads)."""
    if not client_id or len(client_id) > 64:
        return None
    if not has_request_context():
        return client_by_id().entity({"client_id": client_id})
    seen = clients_read()
    if client_id not in seen:
        seen[client_id] = client_by_id().entity({"client_id": client_id})
    return seen[client_id]


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def client_by_id() -> EntityRead[Client]:
    return EntityRead(Columns(Client), Client.client_id == bindparam("client_id"))


def save_token(token: dict[str, Any], request: OAuth2Request) -> None:
    """Store the new token (digests only: ``token_row``) and spend the code or refresh
    token it comes from: in one statement on PostgreSQL (``save_spending``), in the
    transaction that spent it on SQLite."""
    if not save_spending(token, request):
        insert_and_commit(Token, token_row(token, request))


def create_server(app: Flask) -> AuthorizationServer:
    settings: Settings = app.extensions["idp.settings"]
    server = AuthorizationServer()
    server.init_app(app, query_client=query_client, save_token=save_token)
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=lambda **_: generate_secret(32),
            refresh_token_generator=lambda **_: generate_secret(32),
            expires_generator=lambda client, grant_type: settings.access_token_lifetime,
        ),
    )
    server.register_grant(
        AuthorizationCodeGrant,
        [CodeChallenge(required=True), OpenIDCode(require_nonce=False)],
    )
    server.register_grant(RefreshTokenGrant, [OpenIDRefresh(require_nonce=False)])
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(TokenExchangeGrant)
    server.register_token_generator(CLIENT_CREDENTIALS, generate_platform_token)
    server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJWT())
    server.register_client_auth_method(client_auth.METHOD,
                                       client_auth.authenticate_client_secret_basic)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator(realm="userinfo"))
    protector.register_token_validator(DPoPTokenValidator(realm="userinfo"))
    server.register_endpoint(UserInfoEndpoint(resource_protector=protector))
    return server


def create_platform_protector() -> _ResourceProtector:
    """Bearer platform tokens (the client credentials grant) at the endpoints platforms
    call for themselves; travellers' tokens are not accepted there."""
    protector = _ResourceProtector()
    protector.register_token_validator(PlatformTokenValidator(realm="platform"))
    return protector


def init_app(app: Flask) -> None:
    app.extensions["idp.oauth_server"] = create_server(app)
    app.extensions["idp.platform_protector"] = create_platform_protector()


def oauth_server() -> AuthorizationServer:
    server: AuthorizationServer = current_app.extensions["idp.oauth_server"]
    return server


def platform_protector() -> _ResourceProtector:
    protector: _ResourceProtector = current_app.extensions["idp.platform_protector"]
    return protector
