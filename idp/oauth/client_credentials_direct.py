"""The client credentials grant answered under Flask, for the common request (issue 13,
part 2a).

A platform's server asking the token endpoint for a token of its own, with its secret in
HTTP Basic, spent about 1.4 ms of CPU in process: Flask's request context and form
parsing, Authlib's client authentication and grant, the ORM session. Its work is one
read of the platform and one INSERT of the token's digest.

So the common request is answered by ``idp.prepared`` (a computed route), in one
statement, one round trip: the token is made first by the grant's own generator
(``generate_platform_token``, for platform scopes only: ``client_credentials.
granted_scope``), then written as the grant stores it (``platform_token_row``) by an
INSERT that selects its values only if the platform's row holds to Flask's path's rules
(``direct.basic_platform_may``: it authenticates with that secret by a method that
allows Basic, so it is confidential; registered for the grant; opaque tokens). One
statement is its own transaction; when a rule fails it writes nothing, and Flask's path
answers from the start (was: the platform's read, then the INSERT). The answer counts
in ``idp_tokens_issued``.

Flask answers, as before, whatever is not the common case: a form with anything but
``grant_type=client_credentials`` and at most one ``scope``; credentials that do not
authenticate a confidential platform registered for the grant; a scope that is not a
platform scope; a platform that wants JWT access tokens (signed with the provider's
keys there); a ``DPoP`` header, a query, a cookie, a body over 1 KiB; a database
error. The request's body is read here and handed back to Flask unread."""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import InvalidScopeError
from sqlalchemy.exc import SQLAlchemyError

from idp import prepared
from idp.db_pool import insert_alone
from idp.digests import digest
from idp.direct_sql import insert_row_when
from idp.logs import CLIENT_ID
from idp.oauth.client_credentials import generate_platform_token, platform_token_row
from idp.oauth.direct import DirectAnswer, basic_platform_may
from idp.oauth.models import OPAQUE_ACCESS_TOKENS, Client
from idp.oauth.platform_tokens import GRANT_TYPE, PlatformToken

FIELDS = frozenset({"grant_type", "scope"})


class DirectClientCredentials(DirectAnswer):
    """The JSON body of a platform's token, or None to let Flask answer."""

    def answer(self, environ: dict[str, Any], form: dict[str, str], client_id: str,
               secret: str) -> bytes | None:
        if (not set(form) <= FIELDS or form.get("grant_type") != GRANT_TYPE
                or not secret):
            return None
        scope = form.get("scope")
        try:
            token = generate_platform_token(GRANT_TYPE, OPAQUE, scope=scope,  # type: ignore[arg-type]
                                            lifetime=self.access_token_lifetime)
        except InvalidScopeError:
            return None
        try:
            # One statement: on PostgreSQL its own transaction (no BEGIN, no COMMIT); on
            # SQLite, committed as the block ends.
            with self.held.connection() as connection, connection.begin():
                insert_alone(connection)
                written = insert_row_when(
                    issuing_platform(), PlatformToken, platform_token_row(client_id, token),
                    {"client_id": client_id, "secret_hash": digest(secret)}, connection)
        except SQLAlchemyError:
            return None  # Flask's path meets it too, and answers it
        if not written:
            return None  # a rule broken: Flask's path says which
        environ[CLIENT_ID] = client_id
        environ[prepared.ISSUED] = GRANT_TYPE
        return self.json(token)

    @property
    def access_token_lifetime(self) -> int:
        lifetime: int = self.app.extensions["idp.settings"].access_token_lifetime
        return lifetime


# The platform as the generator sees it before the statement: one that wants opaque
# access tokens, which the statement checks it does.
OPAQUE = SimpleNamespace(access_token_format=OPAQUE_ACCESS_TOKENS)


@functools.cache  # one object: idp.direct_sql.insert_row_when compiles once for it
def issuing_platform() -> sa.ColumnElement[bool]:
    """The platform named by the Basic header, held to Flask's path's rules."""
    clients = Client.__table__.c
    return sa.exists().where(clients.client_id == sa.bindparam("client_id"),
                             *basic_platform_may(GRANT_TYPE))
