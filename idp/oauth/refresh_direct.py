"""The refresh grant answered under Flask, for the common request (issue 13, part 2a).

A platform's back end renewing a traveller's tokens, with its secret in HTTP Basic, spent
about 3 ms of CPU in process, where a bare Flask "hello" spends 0.1: Flask's request
context, hooks and form parsing, Authlib's client authentication, grant and hooks, the
ORM session. Its own work is one RS256 signature (the new ID token) and one write that
spends the old token and stores the new one; the issue's target is the bare request,
that signature and that write.

So the common request is answered by ``idp.prepared`` (a computed route of ``/token``,
``idp.oauth.token_direct``), on PostgreSQL, in one statement, one round trip
(``renewal``):

- an UPDATE spends the refresh token (``refresh_used_at`` and ``revoked_at`` set by the
  grant's own ``spent_refresh_token``, as ``refresh_claim_statement`` sets them) only if
  every rule of Flask's path holds, each a condition of its WHERE, on the token and the
  platform and traveller it joins: the platform named by the Basic header,
  authenticating with that secret (the digest of the secret it sent equals the one
  stored, as ``check_client_secret`` compares them) by a method that allows Basic at the
  token endpoint; registered for the grant; wanting opaque access tokens; the token
  neither spent, revoked nor lapsed (``Token.is_refresh_token_active``: a platform with
  a secret has no idle limit), not exchanged, not bound to a DPoP key, without a
  ``claims`` request; its scope all still allowed to the platform (so the server's
  generator would keep it whole);
- an INSERT in the same statement writes the new token from the row it spent: same
  platform, traveller, scope, family, absolute lifetime and authentication context
  (``token_row``'s choices, carried in SQL: ``CARRIED``), the digests of the new
  tokens made beforehand by the server's own generator (``generate_token``), and no
  DPoP key;
- the statement returns the spent row with what the ID token needs of the traveller
  and the platform; the ID token is then made by the grant's own ``OpenIDRefresh``
  hook, in the app's context.

One statement is atomic by itself: both the spending and the writing, or neither. When
any rule fails, nothing is written and Flask's path answers the request from the start,
as it would have: it finds the same rule broken and says which (a token spent meanwhile
by another request included: Flask's path then revokes its family, RFC 9700 4.14.2).
After the statement nothing can refuse: only the answer is made, from what it returned.
A pairwise ``sub`` this process does not know to be stored is stored then, in one more
round trip (``store_subject_alone``), before the ID token is made.

The platform's rules are ``direct.basic_platform_may``, shared with the client
credentials grant (where the digests compared by the database are discussed).

Nothing read from the database is kept: a token revoked, spent or lapsed, a withdrawn
consent (which revokes the tokens) is seen by the statement of that very request, here
or at any other instance.

Flask answers, as before, whatever is not the common case: a form with anything but
``grant_type`` and ``refresh_token`` (a ``scope``, a ``resource``), a ``DPoP`` header, a
query, a cookie, a body over 1 KiB; whatever breaks a rule above; signing keys that
must be looked up again; SQLite (where spending and writing are two statements); a
database error before or in the statement. The request's body is read here and handed
back to Flask unread."""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749.util import scope_to_list
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from idp import prepared
from idp.accounts.models import User
from idp.db_pool import insert_alone
from idp.digests import digest
from idp.direct_sql import INSERTED, Columns, DirectRead, with_defaults
from idp.extensions import utcnow
from idp.keys import KeyStore
from idp.logs import CLIENT_ID, TRAVELLER, pseudonym
from idp.oauth.direct import TOKEN_SHAPE, DirectAnswer, basic_platform_may
from idp.oauth.grants import OpenIDRefresh, spends_in_one_statement, spent_refresh_token
from idp.oauth.models import API_CLIENT_COLUMNS, TOKEN_HASH, Client, Token
from idp.oauth.server import AuthorizationServer
from idp.oauth.subjects import computed_subject, store_subject_alone, stored_subject

GRANT_TYPE = "refresh_token"
FIELDS = frozenset({"grant_type", "refresh_token"})


class AnyScope:
    """The platform as the token generator sees it before the statement: the scope is
    the spent token's, which the statement checks is still all allowed."""

    @staticmethod
    def get_allowed_scope(scope: str | None) -> str:
        return scope or ""


class DirectRefresh(DirectAnswer):
    """The JSON body of a refresh, or None to let Flask answer."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        with app.app_context():
            # The grant's own test of whether its one statement can spend and write.
            self.spends_in_one_statement = spends_in_one_statement()
        self.keys: KeyStore = app.extensions["idp.keys"]
        self.server: AuthorizationServer = app.extensions["idp.oauth_server"]
        self.id_token = OpenIDRefresh(require_nonce=False)

    def answer(self, environ: dict[str, Any], form: dict[str, str], client_id: str,
               secret: str) -> bytes | None:
        presented = form.get(GRANT_TYPE, "")
        if (set(form) != FIELDS or not TOKEN_SHAPE.fullmatch(presented) or not secret
                or not self.spends_in_one_statement or self.keys.fresh_etag() is None):
            return None
        # RefreshTokenGrant.issue_token's tokens, by the server's own generator; their
        # scope is the spent token's, set once it is known.
        token: dict[str, Any] = self.server.generate_token(
            grant_type=GRANT_TYPE, client=AnyScope, user=None, scope=None,
            include_refresh_token=True)
        params = {"token_hash": digest(presented), "client_id": client_id,
                  "secret_hash": digest(secret), "now": utcnow()}
        # The new token's own columns (the rest it takes from the one it replaces), with
        # the Python-side defaults of those not given (its time of issue).
        new = with_defaults(Token.__table__, {
            "access_token_hash": digest(token["access_token"]),
            "refresh_token_hash": digest(token["refresh_token"]),
            "expires_in": token["expires_in"], "dpop_jkt": None}, leave_out=CARRIED)
        found = None
        try:
            with self.held.connection() as connection:
                insert_alone(connection)
                found = renewal(frozenset(new)).run(connection, params, new)
                if found is None:
                    return None  # a rule broken: Flask's path says which
                old, user, client = found
                if stored_subject(self.app, user, client, self.pairwise_key) is None:
                    # A pairwise sub (a public one is always "stored"): it has a sector.
                    sub, sector = computed_subject(user, client, self.pairwise_key)
                    store_subject_alone(self.app, connection, user.id, sector, sub)  # type: ignore[arg-type]
        except SQLAlchemyError:
            if found is None:
                return None  # nothing written: Flask's path meets it too, and answers it
            raise  # after the rotation was written, a 500, as any answer lost on its way
        if old.scope:
            token["scope"] = old.scope
        if "openid" in scope_to_list(old.scope):
            request = SimpleNamespace(client=client, user=user, refresh_token=old,
                                      authorization_code=None)
            with self.app.app_context():
                token["id_token"] = self.id_token.encode_id_token(token, request)  # type: ignore[arg-type]
        environ[CLIENT_ID] = old.client_id
        environ[TRAVELLER] = pseudonym(old.user_id, self.secret_key)
        environ[prepared.ISSUED] = GRANT_TYPE
        return self.json(token)


# What the answer reads of the spent token (the ID token's authentication context and
# claims request; the platform, traveller and scope), of its traveller (the subject:
# ``sub`` and the pairwise one) and of its platform (its identity and sector, its ID
# token's algorithm).
READ_OF_TOKEN = (Token.client_id, Token.user_id, Token.scope, Token.auth_time, Token.acr,
                 Token.amr, Token.sid, Token.claims_request)
REFRESH_CLIENT_COLUMNS = (*API_CLIENT_COLUMNS, Client.id_token_signed_response_alg)
# What the new token takes from the one it replaces, as ``token_row`` makes it at a
# rotation: platform, traveller and scope, the authentication context, the consent's
# claims and their request, the family (its code) and its absolute lifetime.
CARRIED = ("client_id", "user_id", "scope", "auth_time", "acr", "amr", "sid", "claims",
           "claims_request", "authorization_code_id", "refresh_token_expires_at")


class Renewal:
    """The statement that spends a refresh token and writes the one replacing it (see
    the module's docstring), and what it returns made into entities in no session: the
    spent token, its traveller and its platform."""

    def __init__(self, given: frozenset[str]) -> None:
        tokens, clients, users = Token.__table__, Client.__table__, User.__table__
        self.parts: tuple[Columns[Token], Columns[User], Columns[Client]] = (
            Columns(Token, only=READ_OF_TOKEN), Columns(User, only=(User.subject,)),
            Columns(Client, only=REFRESH_CLIENT_COLUMNS))
        read = [column for part in self.parts for column in part.columns]
        returned = [*(tokens.c[key] for key in CARRIED if tokens.c[key] not in read), *read]
        # The UPDATE returns what the INSERT and the answer read, under short names: the
        # statement stays under the length (4 KiB) below which psycopg keeps a query's
        # conversion; over it, the query was converted anew at every request (0.14 ms).
        named = {column: f"r{index}" for index, column in enumerate(returned)}
        now = sa.bindparam("now", type_=tokens.c.issued_at.type)
        claimed = (
            sa.update(tokens)
            .where(tokens.c.refresh_token_hash == TOKEN_HASH,
                   tokens.c.refresh_used_at.is_(None), tokens.c.revoked_at.is_(None),
                   tokens.c.refresh_token_expires_at > now,
                   tokens.c.audience.is_(None), tokens.c.dpop_jkt.is_(None),
                   # No claims request: SQL's NULL or JSON's null (how the ORM stores None).
                   sa.func.coalesce(sa.cast(tokens.c.claims_request, sa.Text), "null")
                   == "null",
                   tokens.c.client_id == sa.bindparam("client_id"),
                   clients.c.client_id == tokens.c.client_id,
                   *basic_platform_may(GRANT_TYPE),
                   sa.func.string_to_array(tokens.c.scope, " ").bool_op("<@")(
                       sa.func.string_to_array(clients.c.scope, " ")),
                   users.c.id == tokens.c.user_id)
            .values(spent_refresh_token(now))
            .returning(*(column.label(name) for column, name in named.items()))
            .cte("claimed"))
        keys = sorted(set(CARRIED) | given)
        row = sa.select(*(claimed.c[named[tokens.c[key]]] if key in CARRIED
                          else sa.bindparam(f"{INSERTED}{key}", type_=tokens.c[key].type)
                          for key in keys)).select_from(claimed)
        written = sa.insert(tokens).from_select(keys, row, include_defaults=False)
        self.read = DirectRead(sa.select(*(claimed.c[named[column]] for column in read))
                               .add_cte(written.cte("written")))

    def run(self, connection: sa.Connection, params: dict[str, Any],
            new: dict[str, Any]) -> tuple[Token, User, Client] | None:
        """The spent token, its traveller and platform; None when nothing was written."""
        found = self.read.first_on(connection, {**params, **{
            f"{INSERTED}{key}": value for key, value in new.items()}})
        if found is None:
            return None
        token_part, user_part, client_part = self.parts
        user = user_part.detached(found[len(token_part.columns):][:len(user_part.columns)])
        client = client_part.detached(found[-len(client_part.columns):])
        token = token_part.detached(found[:len(token_part.columns)],
                                    {"user": user, "client": client})
        return token, user, client


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def renewal(given: frozenset[str]) -> Renewal:
    """The statement, for a new token whose own columns are ``given``."""
    return Renewal(given)
