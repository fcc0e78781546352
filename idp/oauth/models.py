"""Platforms (OAuth clients), authorization codes and tokens, as Authlib expects them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from flask import current_app, has_request_context
from flask import request as flask_request
from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    false,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from idp.accounts.models import User
from idp.digests import check_digest
from idp.direct_sql import Columns, EntityRead
from idp.extensions import db, utcnow
from idp.oauth.redirect_uris import check_redirect_uri
from idp.types import UTCDateTime

SECRET_METHODS = ("client_secret_basic", "client_secret_post")
# How a client's access tokens look: random strings, or JWTs after RFC 9068.
OPAQUE_ACCESS_TOKENS, JWT_ACCESS_TOKENS = "opaque", "jwt"
ACCESS_TOKEN_FORMATS = (OPAQUE_ACCESS_TOKENS, JWT_ACCESS_TOKENS)


class ClientMetadata(Mapping[str, Any]):
    """A platform's registered metadata (RFC 7591) as a read-only mapping over its row:
    a member is read when asked for; lists are copies."""

    MEMBERS = ("client_name", "application_type", "redirect_uris", "scope", "grant_types",
               "response_types", "token_endpoint_auth_method", "id_token_signed_response_alg",
               "logo_uri", "policy_uri", "tos_uri", "client_uri", "contacts",
               "backchannel_logout_uri", "backchannel_logout_session_required",
               "post_logout_redirect_uris", "subject_type", "sector_identifier_uri", "jwks",
               "jwks_uri", "require_pushed_authorization_requests",
               "request_object_signing_alg")

    def __init__(self, client: Client) -> None:
        self.client = client

    def __getitem__(self, name: str) -> Any:
        if name not in self.MEMBERS:
            raise KeyError(name)
        value = getattr(self.client, name)
        return list(value) if isinstance(value, list) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self.MEMBERS)

    def __len__(self) -> int:
        return len(self.MEMBERS)


class Client(db.Model, ClientMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(120))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    response_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    require_pkce: Mapped[bool] = mapped_column(default=True)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    logo_uri: Mapped[str | None] = mapped_column(String(500))
    policy_uri: Mapped[str | None] = mapped_column(String(500))
    tos_uri: Mapped[str | None] = mapped_column(String(500))
    client_uri: Mapped[str | None] = mapped_column(String(500))
    contacts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # OpenID Connect Back-Channel Logout 1.0, section 2.2.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    # Where the platform receives Security Event Tokens pushed to it (RFC 8417, RFC 8935),
    # registered as ``mob_events_uri``: a delegation stopped (idp.oauth.events).
    events_uri: Mapped[str | None] = mapped_column(String(500))
    # RP-Initiated Logout 1.0, section 3.1: exact URIs only, as for redirect_uris.
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    # For each scope the platform may ask: {"required": bool, "purpose": {lang: text}}.
    scope_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # RFC 7592: the digest of the token a dynamically registered client manages itself with.
    registration_access_token_hash: Mapped[str | None] = mapped_column(String(64))
    # RFC 7591 2: the platform's public keys, inline or by URL (never both), for
    # private_key_jwt client authentication (RFC 7523, OIDC Core 9).
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    # OIDC Core 8: pairwise unless the operator grants public subjects to this client.
    subject_type: Mapped[str] = mapped_column(String(10), default="pairwise",
                                              server_default="pairwise")
    # OIDC Core 8.1: groups the redirect hosts of one platform into one sector.
    sector_identifier_uri: Mapped[str | None] = mapped_column(String(500))
    # "opaque" or "jwt" (RFC 9068); either way only the token's digest is stored.
    access_token_format: Mapped[str] = mapped_column(String(10), default=OPAQUE_ACCESS_TOKENS,
                                                     server_default=OPAQUE_ACCESS_TOKENS)
    # OIDC Registration 2: "web" or "native" (RFC 8252 redirect URIs).
    application_type: Mapped[str] = mapped_column(String(10), default="web",
                                                  server_default="web")
    # RFC 9126 6: this client's authorization requests must come through /par.
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    # OIDC Dynamic Client Registration 2: the one alg its request objects use; None means
    # RS256 or ES256 as its keys allow. "none" (unsigned) only if the operator set it.
    request_object_signing_alg: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def client_metadata(self) -> ClientMetadata:
        """RFC 7591 metadata as registered, read member by member: Authlib looks up one
        (``userinfo_signed_response_alg``) at every userinfo call, and building the whole
        set there read every column of the platform (issue 13)."""
        return ClientMetadata(self)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core 3.1.2.1 makes redirect_uri REQUIRED: never guess one.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(scope_to_list(self.scope))
        return " ".join(s for s in scope_to_list(scope or "") if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # The one check of the authorization endpoint: exact, but for the port of a
        # loopback IP literal. The token endpoint then compares with the URI the code was
        # sent to, port included (RFC 6749 4.1.3).
        return check_redirect_uri(self.redirect_uris, redirect_uri)

    def check_post_logout_redirect_uri(self, uri: str) -> bool:
        # Exact string comparison, as for redirect URIs: never an open redirect at logout.
        return uri in self.post_logout_redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.client_secret_hash:
            return False
        return check_digest(client_secret, self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A client holding a secret may send it either way (RFC 6749 2.3.1); a public
        # client only identifies itself.
        if self.token_endpoint_auth_method in SECRET_METHODS:
            return method in SECRET_METHODS
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class AuthorizationCode(db.Model, AuthorizationCodeMixin):  # type: ignore[name-defined,misc]
    __tablename__ = "authorization_code"
    # A nonce is looked up at every authorization (replay, OIDC Core 15.5.2): by its
    # digest and client, through an index, whatever the number of codes kept.
    __table_args__ = (Index("ix_authorization_code_client_nonce", "client_id",
                            "nonce_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("client.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    nonce_digest: Mapped[str | None] = mapped_column(String(64))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    sid: Mapped[str | None] = mapped_column(String(64))
    # The claims the traveller agreed to release (a subset of the scopes' claims).
    claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The `claims` request parameter (OIDC Core 5.5), checked; None when not sent.
    claims_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # RFC 9449 10: the key thumbprint the code is bound to (dpop_jkt, or the proof at /par).
    dpop_jkt: Mapped[str | None] = mapped_column(String(43))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    client: Mapped[Client] = relationship(viewonly=True)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr)

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at


class IssuedToken(TokenMixin):  # type: ignore[misc]
    """Authlib's TokenMixin for the tokens this provider issues and stores by digest: a
    traveller's (``Token``) and a platform's own (``PlatformToken``). Each subclass maps
    client_id, scope, issued_at, expires_in and revoked_at."""

    client_id: Mapped[str]
    scope: Mapped[str]
    issued_at: Mapped[datetime]
    expires_in: Mapped[int]
    revoked_at: Mapped[datetime | None]

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + timedelta(seconds=self.expires_in)

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Token(db.Model, IssuedToken):  # type: ignore[name-defined,misc]
    __tablename__ = "token"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("client.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_in: Mapped[int] = mapped_column()
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every token a code led to, directly or by refresh, so a replayed code revokes them all.
    authorization_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorization_code.id", ondelete="SET NULL"), index=True
    )
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    sid: Mapped[str | None] = mapped_column(String(64))
    claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    claims_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # RFC 9449 6: the thumbprint of the key the tokens are bound to, None for bearer ones.
    dpop_jkt: Mapped[str | None] = mapped_column(String(43))
    # RFC 8707 / RFC 8693: the resource URI a token exchanged for another platform's API
    # is for (its ``aud``); None for the platform's own tokens.
    audience: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship()
    client: Mapped[Client] = relationship()


    def is_refresh_token_active(self) -> bool:
        deadline = self.refresh_token_deadline
        if self.revoked_at or self.refresh_used_at or deadline is None:
            return False
        return utcnow() < deadline

    @property
    def refresh_token_deadline(self) -> datetime | None:
        """When this refresh token lapses: the family's absolute limit (kept through
        rotation), and for a public client also its idle limit, counted from this token's
        issue, that is from the family's last use (RFC 9700 4.14.2)."""
        if self.refresh_token_expires_at is None:
            return None
        idle = refresh_token_idle(self.client)
        if idle is None:
            return self.refresh_token_expires_at
        return min(self.refresh_token_expires_at, self.issued_at + timedelta(seconds=idle))

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> Client:
        return self.client


def refresh_token_lifetime(client: Client) -> int:
    """Seconds a refresh token family lives from its first issue: shorter for a public
    client, whose token is its only credential (RFC 9700 4.14.2)."""
    settings = current_app.extensions["idp.settings"]
    if client.is_public:
        return int(settings.public_refresh_token_lifetime)
    return int(settings.refresh_token_lifetime)


def refresh_token_idle(client: Client) -> int | None:
    """Seconds a public client's refresh token lasts unused. Confidential clients get no
    idle limit: their token is useless without their credentials, and a back end may
    rightly refresh seldom (a monthly job); their absolute lifetime still applies."""
    if not client.is_public:
        return None
    return int(current_app.extensions["idp.settings"].public_refresh_token_idle)


class UsedAssertion(db.Model):  # type: ignore[name-defined,misc]
    """The jti of every client assertion accepted, until it expires (RFC 7523 3, item 7):
    a replayed assertion is refused."""

    __tablename__ = "used_assertion"
    __table_args__ = (UniqueConstraint("client_id", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PushedAuthorizationRequest(db.Model):  # type: ignore[name-defined,misc]
    """An authorization request a client pushed (RFC 9126 2), until its single use or
    expiry. Only the SHA-256 of its request_uri is stored: the row alone cannot be used."""

    __tablename__ = "pushed_authorization_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_uri_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"),
                                           index=True)
    params: Mapped[list[list[str]]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


CLIENTS_READ = "idp.clients_read"


def clients_read() -> dict[str, Client | None]:
    """The platforms read during this request, by client_id (``query_client``). In the
    request's environ, not in ``g``: a test's or a command's app context can outlive many
    requests, and a platform changed between two must be read anew."""
    seen: dict[str, Client | None] = flask_request.environ.setdefault(CLIENTS_READ, {})
    return seen


def remember_client(client: Client) -> None:
    """A platform row read along with something else (its token), for ``query_client``."""
    if has_request_context():
        clients_read().setdefault(client.client_id, client)


# What userinfo and introspection read of the platform: its identity, its subject
# sector (pairwise subjects), whether it is public, and its access token format.
API_CLIENT_COLUMNS = (Client.client_id, Client.client_name, Client.redirect_uris,
                      Client.scope, Client.token_endpoint_auth_method, Client.subject_type,
                      Client.sector_identifier_uri, Client.access_token_format,
                      Client.application_type)


# The digest a token is looked up by.
TOKEN_HASH: BindParameter[str] = bindparam("token_hash")
# Either of a grant's two tokens.
_EITHER_TOKEN = or_(Token.access_token_hash == TOKEN_HASH, Token.refresh_token_hash == TOKEN_HASH)
InForceJoin = Callable[[Select[Any]], Select[Any]]


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def token_read(column: str, lean: bool = False,
               extend: InForceJoin | None = None) -> EntityRead[Token]:
    """A traveller's token, found by ``column`` (``access_token_hash`` or
    ``refresh_token_hash``) equal to the ``token_hash`` parameter, with its traveller and
    platform in the same query: userinfo, introspection, revocation and refresh use all
    three (issue 13: 3 queries were 1). ``extend`` adds columns after them (userinfo:
    the consent in force).

    ``lean``, for the endpoints that only read (userinfo, introspection): the platform's
    row without what they never use (its keys, contacts, logout and registration
    settings: JSON each decoded on every call) and the traveller's row without the
    password hash. Whatever else is read later costs a query, which
    tests/test_query_counts.py would count."""
    return _token_with_owner(getattr(Token, column) == TOKEN_HASH, lean, extend)


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def either_token_read(lean: bool = False) -> EntityRead[Token]:
    """The grant whose access token or refresh token has the ``token_hash`` digest, when
    the caller does not know which (introspection and revocation: the hint is optional).
    One read through both unique indexes (PostgreSQL: a BitmapOr) instead of one per
    kind."""
    return _token_with_owner(_EITHER_TOKEN, lean, None)


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def introspected_token_read() -> EntityRead[Token]:
    """As :func:`either_token_read`, with only what introspection's common answer reads
    (``idp.oauth.introspection_direct``): of the grant, its columns but the JSON ones
    (the claims, their request, the authentication methods), of its traveller the
    subject, of its platform what :data:`API_CLIENT_COLUMNS` name and the digest of its
    secret, which the platform authenticates with. Read with all its columns, the row
    had eleven JSON values to decode, a sixth of the answer's CPU."""
    return EntityRead(
        Columns(Token, without=(Token.claims, Token.claims_request, Token.amr)),
        _EITHER_TOKEN,
        joined={"user": Columns(User, only=(User.subject,)),
                "client": Columns(Client, only=(*API_CLIENT_COLUMNS,
                                                Client.client_secret_hash))})


# Of a grant, what userinfo's common answer (idp.oauth.userinfo_direct) never reads: the
# digests it was found by, the refresh token's dates, the code it came from and the
# authentication context (the ID token's business).
NOT_FOR_USERINFO = (Token.access_token_hash, Token.refresh_token_hash,
                    Token.refresh_token_expires_at, Token.refresh_used_at,
                    Token.authorization_code_id, Token.auth_time, Token.acr, Token.amr,
                    Token.sid)


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def userinfo_token_read(extend: InForceJoin) -> EntityRead[Token]:
    """As ``token_read("access_token_hash", lean=True, extend=extend)``, Flask's path's
    statement, with only the columns userinfo's common answer reads: 45 where it had 54
    (the decoding of each column, a JSON among them, is most of the read's CPU)."""
    return EntityRead(
        Columns(Token, without=NOT_FOR_USERINFO),
        Token.access_token_hash == TOKEN_HASH,
        joined={"user": Columns(User, without=(User.password_hash,)),
                "client": Columns(Client, only=API_CLIENT_COLUMNS)},
        extend=extend)


def _token_with_owner(where: ColumnElement[bool], lean: bool,
                      extend: InForceJoin | None) -> EntityRead[Token]:
    user = Columns(User, without=[User.password_hash] if lean else ())
    client = Columns(Client, only=API_CLIENT_COLUMNS if lean else None)
    return EntityRead(Columns(Token), where, joined={"user": user, "client": client},
                      extend=extend)


def find_either_token(presented_digest: str, lean: bool = False) -> tuple[Token, str] | None:
    """The grant holding this digest as either token, and which (``access_token`` or
    ``refresh_token``)."""
    row = either_token_read(lean).entity({"token_hash": presented_digest})
    if row is None:
        return None
    return row, "access_token" if row.access_token_hash == presented_digest else "refresh_token"


def find_token_by(column: str, presented_digest: str, lean: bool = False) -> Token | None:
    """The token whose ``column`` holds this digest, with its traveller and platform."""
    return token_read(column, lean).entity({"token_hash": presented_digest})
