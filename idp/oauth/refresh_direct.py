"""The refresh grant answered under Flask, for the common request (issue 13, part 2a).

A platform's back end renewing a traveller's tokens, with its secret in HTTP Basic, spent
about 3 ms of CPU in process, where a bare Flask "hello" spends 0.1: Flask's request
context, hooks and form parsing, Authlib's client authentication, grant and hooks, the
ORM session. Its own work is one read of the refresh token (with its traveller and
platform), one RS256 signature (the new ID token, 0.55 ms) and one statement that
spends the old token and writes the new one.

So the common request is answered by ``idp.prepared`` (a computed route of ``/token``,
``idp.oauth.token_direct``), on PostgreSQL:

- the refresh token is read with its traveller and platform on a pooled connection,
  with only the columns this answer reads (``refresh_read``);
- the platform is authenticated on that row as Flask's path does
  (``client_auth.basic_authenticates``), and the grant's rules are Flask's path's: the
  platform's own token, a platform registered for the grant, a refresh token neither
  spent, revoked nor lapsed (``Token.is_refresh_token_active``);
- the tokens are made by the server's own generator (``generate_token``, which keeps the
  scope to what the platform may still ask), the new row by the grant's ``token_row``
  (same family, same absolute lifetime, same authentication context) and the ID token
  by the grant's own ``OpenIDRefresh`` hook, all in the app's context;
- the old token is spent and the new one written by the grant's own statement
  (``insert_row_if`` with ``refresh_claim_statement``: an UPDATE in a WITH, atomic by
  itself), as a transaction of its own; everything answered is made before it.

Nothing read from the database is kept: a token revoked, spent or lapsed, a withdrawn
consent (which revokes the tokens) is seen by the read of that very request, here or at
any other instance.

Flask answers, as before, whatever is not the common case: a form with anything but
``grant_type`` and ``refresh_token`` (a ``scope``, a ``resource``), a ``DPoP`` header, a
query, a cookie, a body over 1 KiB; credentials that do not authenticate the token's
platform, a platform not registered for the grant or wanting JWT access tokens; a
token unknown, spent (Flask's path then revokes its family: RFC 9700 4.14.2), revoked,
lapsed, exchanged, bound to a DPoP key or carrying a ``claims`` request; a pairwise
``sub`` not yet known to be stored; signing keys that must be looked up again; SQLite
(where spending and writing are two statements); a database error. A token spent by
another request between the read and the write writes nothing here, and goes to
Flask's path, which finds it spent and revokes its family. The request's body is read
here and handed back to Flask unread."""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from idp import prepared
from idp.accounts.models import User
from idp.db_pool import insert_alone
from idp.digests import digest
from idp.direct_sql import Columns, EntityRead, insert_row_if
from idp.extensions import utcnow
from idp.keys import KeyStore
from idp.logs import CLIENT_ID, TRAVELLER, pseudonym
from idp.oauth import client_auth
from idp.oauth.access_tokens import wants_jwt
from idp.oauth.direct import TOKEN_SHAPE, DirectAnswer
from idp.oauth.grants import (
    OpenIDRefresh,
    refresh_claim_statement,
    spends_in_one_statement,
    token_row,
)
from idp.oauth.models import API_CLIENT_COLUMNS, TOKEN_HASH, Client, Token
from idp.oauth.server import AuthorizationServer
from idp.oauth.subjects import stored_subject

GRANT_TYPE = "refresh_token"
FIELDS = frozenset({"grant_type", "refresh_token"})


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
        if (set(form) != FIELDS or not TOKEN_SHAPE.fullmatch(presented)
                or not self.spends_in_one_statement or self.keys.fresh_etag() is None):
            return None
        try:
            with self.held.connection() as connection, connection.begin():
                found = refresh_read().first_detached(connection,
                                                      {"token_hash": digest(presented)})
                if found is None:
                    return None
                old = found[0]
                with self.app.app_context():
                    made = self.new_tokens(old, client_id, secret)
                if made is None:
                    return None
                body, row = made
                insert_alone(connection)
                written = insert_row_if(refresh_claim_statement(), Token, row,
                                        {"token_id": old.id, "now": utcnow()}, connection)
        except SQLAlchemyError:
            return None  # Flask's path meets it too, and answers it
        if not written:
            return None  # spent meanwhile: Flask's path revokes the family
        environ[CLIENT_ID] = old.client_id
        environ[TRAVELLER] = pseudonym(old.user_id, self.secret_key)
        environ[prepared.ISSUED] = GRANT_TYPE
        return body

    def new_tokens(self, old: Token, client_id: str,
                   secret: str) -> tuple[bytes, dict[str, Any]] | None:
        """The answer and the new token's row, as the grant makes them (in the app's
        context); None when anything of it needs Flask's path."""
        client: Client = old.client
        user: User = old.user
        if (client.client_id != client_id
                or not client_auth.basic_authenticates(client, secret, "token")
                or not client.check_grant_type(GRANT_TYPE)
                or not old.is_refresh_token_active() or old.audience is not None
                or old.dpop_jkt is not None or old.claims_request is not None
                or wants_jwt(client)
                or stored_subject(self.app, user, client, self.pairwise_key) is None):
            return None
        # RefreshTokenGrant.issue_token, then its save_token and OpenIDRefresh's hook.
        token = self.server.generate_token(grant_type=GRANT_TYPE, client=client, user=user,
                                           scope=old.get_scope(), include_refresh_token=True)
        request = SimpleNamespace(client=client, user=user, refresh_token=old,
                                  authorization_code=None)
        row = token_row(token, request)  # type: ignore[arg-type]
        if "openid" in scope_to_list(token.get("scope") or ""):
            token["id_token"] = self.id_token.encode_id_token(token, request)  # type: ignore[arg-type]
        return self.json(token), row


# What the answer reads of the traveller (the subject: ``sub`` and the pairwise one)
# and of the platform (its identity and sector, how it authenticates and with what,
# its grants, its ID token's algorithm). Any other column read would raise, the
# entities being in no session.
REFRESH_CLIENT_COLUMNS = (*API_CLIENT_COLUMNS, Client.client_secret_hash, Client.grant_types,
                          Client.id_token_signed_response_alg)


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def refresh_read() -> EntityRead[Token]:
    """Flask's path's statement (``read_refresh_token``), with only those columns."""
    return EntityRead(Columns(Token), Token.refresh_token_hash == TOKEN_HASH,
                      joined={"user": Columns(User, only=(User.subject,)),
                              "client": Columns(Client, only=REFRESH_CLIENT_COLUMNS)})

