"""Authlib grants and extensions of the provider: small, delegating to the models."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Request,
    grants,
    scope_to_list,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge as _CodeChallenge
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from authlib.oidc.core import UserInfo
from flask import current_app
from sqlalchemy import Select, Update, bindparam, func, update
from sqlalchemy.sql.elements import BindParameter

from idp.accounts.models import User
from idp.db_pool import write_alone
from idp.digests import digest
from idp.direct_sql import Columns, DirectRead, DirectWrite, EntityRead, insert_row_if
from idp.extensions import db, insert_and_commit, keeping_loaded, utcnow
from idp.keys import JoseKey, key_store
from idp.oauth.access_tokens import access_token_claims, sign, wants_jwt
from idp.oauth.acr import acr_for
from idp.oauth.claims import subject_for, user_claims
from idp.oauth.claims_request import requested, select
from idp.oauth.dpop import InvalidDPoPProofError, bound_key
from idp.oauth.models import (
    AuthorizationCode,
    Client,
    Token,
    find_token_by,
    refresh_token_lifetime,
    remember_client,
)

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


class CodeChallenge(_CodeChallenge):
    """PKCE (RFC 7636) as RFC 9700 2.1.1 wants it: S256 only, and mandatory for public
    clients and for confidential ones unless the operator turned it off for that client."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        client: Client = grant.request.client
        if client.require_pkce or client.is_public:
            if not data.get("code_challenge"):
                raise InvalidRequestError("PKCE is required: send 'code_challenge' with S256.")
            if data.get("code_challenge_method") != "S256":
                raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDCode(_OpenIDCode):
    """ID tokens for the code flow (OIDC Core 3.1.3.6): protocol claims and `sub` only;
    profile claims go through userinfo, where consent is checked at every call."""

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        """Asked twice per authorization (the authorize view validates the request, then
        Authlib again as it answers): the database is asked once."""
        seen: dict[tuple[str, str], bool] = request.__dict__.setdefault("idp_nonces", {})
        key = (request.payload.client_id, nonce)
        if key not in seen:
            seen[key] = nonce_read().first({
                "client_id": key[0], "nonce_digest": digest(nonce)}) is not None
        return seen[key]

    def resolve_client_private_key(self, client: Client) -> JoseKey:
        return key_store().signing_key(self.get_client_algorithm(client))

    def get_client_algorithm(self, client: Client) -> str:
        return client.id_token_signed_response_alg

    def get_encode_header(self, client: Client) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": self.get_client_algorithm(client), "kid": str(key.kid), "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        settings = current_app.extensions["idp.settings"]
        now = int(time.time())
        return {
            "iss": settings.issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + settings.id_token_lifetime,
        }

    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_compatible_claims(request)
        claims["sub"] = subject_for(request.user, request.client)
        origin = request.authorization_code or request.refresh_token
        if origin is None:
            return claims
        if origin.sid:
            claims["sid"] = origin.sid
        if request.authorization_code is None:
            # A refresh (OIDC Core 12.2): the time and context of the original
            # authentication, which Authlib adds from a code only; no nonce.
            claims["auth_time"] = int(origin.auth_time.timestamp())
            claims.update({"acr": origin.acr} if origin.acr else {})
            claims.update({"amr": list(origin.amr)} if origin.amr else {})
        claims.update(id_token_claims(request.user, request.client, origin))
        return claims

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return UserInfo()


class OpenIDRefresh(OpenIDCode):
    """A new ID token with every refresh of an ``openid`` grant (OIDC Core 12.2), as
    Keycloak and node-oidc-provider answer: relying-party libraries that renew their
    session from the refresh response (oidc-client-ts, openid-client) find one. Same
    ``iss``, ``sub``, ``aud``, ``sid``, ``auth_time``, ``acr`` and ``amr`` as the first,
    a new ``iat``, no ``nonce``; the claims the platform asked in the ID token, within
    the consent, as at the code."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)


class ReadBeforeAuthentication:
    """A grant whose code or token is read with its traveller and platform before the
    platform authenticates, in one query: the platform's row then serves its
    authentication (issue 13: two round trips were one). Nothing is decided on the row
    until the platform has authenticated and the grant's checks ran; a row of another
    platform leaves that platform to be read as before, and is refused. Authlib makes a
    grant per request, so the row is kept on the grant."""

    request: OAuth2Request
    _read_first: tuple[str, Any] | None = None

    def read_before_authentication(self, field: str, read: Callable[[str], Any]) -> None:
        presented = self.request.payload.data.get(field)
        if isinstance(presented, str) and presented:
            row = read(presented)
            self._read_first = (presented, row)
            if row is not None:
                remember_client(row.client)

    def read_once(self, presented: str, read: Callable[[str], Any]) -> Any:
        """The row read before the authentication, or, for another value, read now."""
        if self._read_first is not None and self._read_first[0] == presented:
            return self._read_first[1]
        return read(presented)


class AuthorizationCodeGrant(ReadBeforeAuthentication, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        login = request.login  # set by the authorize view from the browser session
        settings = current_app.extensions["idp.settings"]
        data = request.payload.data
        now = utcnow()
        insert_and_commit(
            AuthorizationCode,
            dict(
                code_hash=digest(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=" ".join(request.granted_scopes),
                nonce=data.get("nonce"),
                nonce_digest=digest(data["nonce"]) if data.get("nonce") else None,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=login.auth_time,
                acr=acr_for(request.claims_request, login),
                amr=list(login.amr),
                sid=login.sid,
                claims=list(request.granted_claims),
                claims_request=request.claims_request,
                dpop_jkt=data.get("dpop_jkt"),
                created_at=now,
                expires_at=now + timedelta(seconds=settings.code_lifetime),
            ),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """The platform's own unused code. On PostgreSQL it is spent by the statement that
        writes the tokens (``save_token``); on SQLite here, in the transaction that
        ``save_token`` commits. A check failing later (PKCE, redirect URI, DPoP) rolls
        back, so the code is spent only with the tokens written."""
        item: AuthorizationCode | None = self.read_once(code, read_code)
        if item is None or item.client_id != client.client_id:
            return None
        spent_here = not spends_in_one_statement()
        if item.used_at is not None or (spent_here and not claim_code(item)):
            # RFC 6749 4.1.2 and RFC 9700 4.5: a replayed code revokes what it issued.
            revoke_code_family(item.id)
            db.session.commit()
            return None
        if item.is_expired():
            if spent_here:
                db.session.commit()
            return None
        return item

    def validate_token_request(self) -> None:
        # The code is claimed only after the platform has authenticated and is found to
        # be its own (query_authorization_code).
        self.read_before_authentication("code", read_code)
        super().validate_token_request()
        validate_code_binding(self.request.authorization_code)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # The code row stays, marked used, so that a replay can be recognised.
        return None

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):  # type: ignore[no-untyped-def]
        token = super().generate_token(
            user=user,
            scope=scope,
            grant_type=grant_type,
            expires_in=expires_in,
            include_refresh_token=include_refresh_token and wants_refresh_token(scope),
        )
        return with_access_token_format(token, self.request, user)


class RefreshTokenGrant(ReadBeforeAuthentication, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation at every use

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token: Token | None = self.read_once(refresh_token, read_refresh_token)
        if token is None:
            return None
        if token.refresh_used_at is not None and token.authorization_code_id is not None:
            # A rotated refresh token came back: it leaked. Revoke its whole family.
            revoke_code_family(token.authorization_code_id)
            db.session.commit()
            return None
        return token if token.is_refresh_token_active() else None

    def validate_token_request(self) -> None:
        self.read_before_authentication("refresh_token", read_refresh_token)
        super().validate_token_request()
        validate_refresh_binding(self.request.refresh_token)

    def authenticate_user(self, refresh_token: Token) -> User:
        return refresh_token.user

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):  # type: ignore[no-untyped-def]
        token = super().generate_token(user=user, scope=scope, grant_type=grant_type,
                                       expires_in=expires_in,
                                       include_refresh_token=include_refresh_token)
        return with_access_token_format(token, self.request, user)

    @hooked  # OpenIDRefresh's new ID token (after_create_token_response)
    def create_token_response(self):  # type: ignore[no-untyped-def]
        """Authlib saves the new token, then spends the old one, in two commits: a crash
        or a failure between them would leave two live families. Here both or neither:
        on PostgreSQL one statement spends the old token and writes the new one (an
        UPDATE in a WITH, the INSERT selecting from what it spent), atomic on its own and
        without BEGIN and COMMIT round trips; on SQLite the old token is spent first (an
        atomic claim), then the new one written, in one transaction that ``save_token``
        commits."""
        refresh_token = self.request.refresh_token
        if refresh_token.audience is not None:
            return self.create_exchanged_token_response(refresh_token)
        user = self.authenticate_user(refresh_token)
        if not user:
            raise InvalidRequestError("There is no 'user' for this token.")
        if not spends_in_one_statement():
            self.revoke_old_credential(refresh_token)
        token = self.issue_token(user, refresh_token)
        self.request.user = user
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def create_exchanged_token_response(self, refresh_token: Token):  # type: ignore[no-untyped-def]
        """Issue 14, part 3: the refresh token of an exchanged token gives again a
        short-lived token for the same API, never one for the platform itself; the
        delegation is checked before the old token is spent."""
        from idp.oauth.token_exchange import validate_refresh  # it imports this module

        exchange = validate_refresh(refresh_token, self.request.client)
        self.revoke_old_credential(refresh_token)
        self.request.user = refresh_token.user
        return 200, exchange.issue(self.request.client), self.TOKEN_RESPONSE_HEADER

    def revoke_old_credential(self, refresh_token: Token) -> None:
        """Spend it, uncommitted: the new token is written in the same transaction."""
        if not claim_refresh_token(refresh_token):
            refresh_token_reused(refresh_token)


def refresh_token_reused(refresh_token: Token) -> NoReturn:
    """Another request used this token since we read it: a reuse that raced its
    rotation (RFC 9700 4.14.2)."""
    reused(refresh_token.authorization_code_id, "The refresh token was already used.")


def reused(code_id: int | None, description: str) -> NoReturn:
    """A code or refresh token used by another request since we read it (RFC 6749
    4.1.2, RFC 9700 4.5 and 4.14.2): nothing of this request is kept, and no branch of
    the family may live on, the one the other request saved included."""
    db.session.rollback()
    if code_id is not None:
        revoke_code_family(code_id)
    db.session.commit()
    raise InvalidGrantError(description)


def save_spending(token: dict[str, Any], request: OAuth2Request) -> bool:
    """On PostgreSQL, write the new token and spend the code or refresh token it comes
    from in one statement (``insert_row_if``: an UPDATE in a WITH, the INSERT selecting
    from what it spent), atomic by itself and without BEGIN and COMMIT round trips. A
    credential spent meanwhile by another request is a reuse: nothing is written and
    the family is revoked. False on SQLite, where the credential was spent already in
    the transaction ``save_token`` commits."""
    if not spends_in_one_statement():
        return False
    code, old = request.authorization_code, request.refresh_token
    claim, params = ((code_claim_statement(), {"code_id": code.id}) if code is not None
                     else (refresh_claim_statement(), {"token_id": old.id}))
    session = db.session()
    with keeping_loaded(session):
        with write_alone(session, lone_insert=True):
            written = insert_row_if(claim, Token, token_row(token, request),
                                    {**params, "now": utcnow()})
        if not written and code is not None:
            reused(code.id, "The code was already used.")
        if not written:
            refresh_token_reused(old)
        session.commit()
    return True


def read_code(presented: str) -> AuthorizationCode | None:
    """With its traveller, whom the grant reads next (authenticate_user), and its
    platform."""
    return code_with_owner().entity({"code_hash": digest(presented)})


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def code_with_owner() -> EntityRead[AuthorizationCode]:
    return EntityRead(Columns(AuthorizationCode),
                      AuthorizationCode.code_hash == bindparam("code_hash"),
                      joined={"user": Columns(User), "client": Columns(Client)})


def read_refresh_token(presented: str) -> Token | None:
    return find_token_by("refresh_token_hash", digest(presented))


def id_token_claims(user: User, client: Client,
                    code: AuthorizationCode | Token) -> dict[str, Any]:
    """Claims the platform asked for in the ID token (OIDC Core 5.5), by scope or one by
    one, from the code or, at a refresh, the token being refreshed (which keeps the
    code's). The stored request names only released claims of non-sensitive scopes (see
    the authorize view)."""
    wanted = requested(code.claims_request, "id_token")
    if not wanted:
        return {}
    allowed = set(wanted) & set(code.claims)
    values = user_claims(user, client, code.scope.split(), allowed, asked=wanted)
    return {k: v for k, v in select(values, wanted).items() if k != "sub"}


def with_access_token_format(token: dict[str, Any], request: OAuth2Request,
                             user: User) -> dict[str, Any]:
    """Swap the random access token for an RFC 9068 JWT when the client chose that format;
    the authentication context comes from the code, or from the token being refreshed."""
    client: Client = request.client
    jkt = bound_key()
    if wants_jwt(client):
        context = request.authorization_code or request.refresh_token
        claims = access_token_claims(client, user, token.get("scope", ""),
                                     token["expires_in"], context)
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}  # RFC 9449 6.1
        token["access_token"] = sign(client, claims)
    if jkt is not None:
        token["token_type"] = "DPoP"  # RFC 9449 5
    return token


def validate_code_binding(code: AuthorizationCode) -> None:
    """RFC 9449 10: a code asked for with ``dpop_jkt`` (or pushed with a proof) is
    redeemed only with a proof of that key."""
    if code.dpop_jkt is not None and bound_key() != code.dpop_jkt:
        raise InvalidGrantError("This code is bound to a DPoP key: send a proof of it.")


def validate_refresh_binding(refresh_token: Token) -> None:
    """RFC 9449 5: a public client's refresh token bound to a key is used only with a
    proof of that same key; a confidential client's is held by its authentication."""
    if refresh_token.dpop_jkt is None or not refresh_token.client.is_public:
        return
    if bound_key() != refresh_token.dpop_jkt:
        raise InvalidDPoPProofError("This refresh token needs a DPoP proof of its key.")


def wants_refresh_token(scope: str | None) -> bool:
    """Refresh tokens only for offline_access (OIDC Core 11)."""
    return "offline_access" in scope_to_list(scope or "")


def claim_code(item: AuthorizationCode) -> bool:
    """Mark the code used, atomically: of two racing redemptions only one wins."""
    return code_claim().run({"code_id": item.id, "now": utcnow()}) == 1


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def code_claim() -> DirectWrite:
    return DirectWrite(code_claim_statement())


@functools.cache  # one object: idp.direct_sql.insert_row_if caches what it builds on it
def code_claim_statement() -> Update:
    # On the table, not the entity: nothing to synchronise in the session here.
    codes = AuthorizationCode.__table__.c
    return (update(AuthorizationCode.__table__)
            .where(codes.id == bindparam("code_id"), codes.used_at.is_(None))
            .values(used_at=bindparam("now")))


@functools.cache  # built once: EXPLAINed by tests/test_query_plans.py, run by nonce_read
def nonce_query() -> Select[int]:
    """A code of this client (``client_id``) with this nonce (``nonce_digest``): found by
    the (client_id, nonce_digest) index, never by scanning the codes
    (tests/test_query_plans.py checks the plan)."""
    return db.select(AuthorizationCode.id).where(
        AuthorizationCode.client_id == bindparam("client_id"),
        AuthorizationCode.nonce_digest == bindparam("nonce_digest"),
    ).limit(1)


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def nonce_read() -> DirectRead:
    return DirectRead(nonce_query())


def claim_refresh_token(token: Token) -> bool:
    """Spend the refresh token (and end its access token), atomically: of two racing
    uses only one wins, and the other is seen as a reuse."""
    return refresh_claim().run({"token_id": token.id, "now": utcnow()}) == 1


@functools.cache  # compiled once per dialect, as ``code_claim``
def refresh_claim() -> DirectWrite:
    return DirectWrite(refresh_claim_statement())


@functools.cache  # one object: idp.direct_sql.insert_row_if caches what it builds on it
def refresh_claim_statement() -> Update:
    now: BindParameter[datetime] = bindparam("now")
    tokens = Token.__table__.c  # the table, as ``code_claim``
    return (update(Token.__table__)
            .where(tokens.id == bindparam("token_id"), tokens.refresh_used_at.is_(None))
            .values(spent_refresh_token(now)))


def spent_refresh_token(now: Any) -> dict[str, Any]:
    """What spending a refresh token sets (its access token ends with it), as an
    UPDATE's values on the token table: here, and in ``idp.oauth.refresh_direct``."""
    tokens = Token.__table__.c
    return {"refresh_used_at": now, "revoked_at": func.coalesce(tokens.revoked_at, now)}


def spends_in_one_statement() -> bool:
    """PostgreSQL runs an UPDATE inside a WITH; SQLite does not."""
    return bool(db.engine.dialect.name == "postgresql")


def token_row(token: dict[str, Any], request: OAuth2Request) -> dict[str, Any]:
    """A new token's row: digests only. Auth context and family come from the code or
    the old token."""
    origin = request.authorization_code or request.refresh_token
    row: dict[str, Any] = dict(
        client_id=request.client.client_id,
        user_id=request.user.id,
        access_token_hash=digest(token["access_token"]),
        scope=token["scope"],
        expires_in=token["expires_in"],
        auth_time=origin.auth_time,
        acr=origin.acr,
        amr=list(origin.amr),
        sid=origin.sid,
        claims=list(origin.claims),
        claims_request=origin.claims_request,
        dpop_jkt=bound_key(),
    )
    if request.authorization_code is not None:
        row["authorization_code_id"] = request.authorization_code.id
    else:
        row["authorization_code_id"] = request.refresh_token.authorization_code_id
    if "refresh_token" in token:
        row["refresh_token_hash"] = digest(token["refresh_token"])
        if request.refresh_token is not None:
            # Rotation keeps the absolute lifetime of the first grant.
            row["refresh_token_expires_at"] = request.refresh_token.refresh_token_expires_at
        else:
            row["refresh_token_expires_at"] = utcnow() + timedelta(
                seconds=refresh_token_lifetime(request.client)
            )
    return row


def revoke_code_family(code_id: int) -> None:
    db.session.execute(
        update(Token)
        .where(Token.authorization_code_id == code_id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
