"""The client credentials grant answered under Flask, for the common request (issue 13,
part 2a).

A platform's server asking the token endpoint for a token of its own, with its secret in
HTTP Basic, spent about 1.4 ms of CPU in process: Flask's request context and form
parsing, Authlib's client authentication and grant, the ORM session. Its work is one
read of the platform and one INSERT of the token's digest.

So the common request is answered by ``idp.prepared`` (a computed route): the platform
read with Flask's path's statement on a pooled connection, authenticated on that row as
Flask's path does (``check_client_secret``, ``check_endpoint_auth_method``), held to the
same rules (confidential, registered for the grant, platform scopes only:
``client_credentials.granted_scope``), and its token made by the grant's own generator
(``generate_platform_token``) and stored as the grant stores it (``platform_token_row``),
in one INSERT that is its own transaction. The answer counts in ``idp_tokens_issued``.

Flask answers, as before, whatever is not the common case: a form with anything but
``grant_type=client_credentials`` and at most one ``scope``; credentials that do not
authenticate a confidential platform registered for the grant; a scope that is not a
platform scope; a platform that wants JWT access tokens (signed with the provider's
keys there); a ``DPoP`` header, a query, a cookie, a body over 1 KiB; a database
error. The request's body is read here and handed back to Flask unread."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import InvalidScopeError
from sqlalchemy.exc import SQLAlchemyError

from idp import prepared
from idp.db_pool import insert_alone
from idp.direct_sql import Columns, EntityRead, insert_row
from idp.logs import CLIENT_ID
from idp.oauth import client_auth
from idp.oauth.access_tokens import wants_jwt
from idp.oauth.client_credentials import (
    generate_platform_token,
    granted_scope,
    platform_token_row,
)
from idp.oauth.direct import DirectAnswer
from idp.oauth.models import Client
from idp.oauth.platform_tokens import GRANT_TYPE, PlatformToken

FIELDS = frozenset({"grant_type", "scope"})


class DirectClientCredentials(DirectAnswer):
    """The JSON body of a platform's token, or None to let Flask answer."""

    def answer(self, environ: dict[str, Any], form: dict[str, str], client_id: str,
               secret: str) -> bytes | None:
        if not set(form) <= FIELDS or form.get("grant_type") != GRANT_TYPE:
            return None
        scope = form.get("scope")
        try:
            granted_scope(scope)
        except InvalidScopeError:
            return None
        try:
            with self.held.connection() as connection, connection.begin():
                return self.issue(environ, connection, client_id, secret, scope)
        except SQLAlchemyError:
            return None  # Flask's path meets it too, and answers it

    def issue(self, environ: dict[str, Any], connection: sa.Connection, client_id: str,
              secret: str, scope: str | None) -> bytes | None:
        """Read the platform, and store its token, on one connection: the INSERT is a
        transaction of its own."""
        found = credentials_read().first_detached(connection, {"client_id": client_id})
        if found is None:
            return None
        client = found[0]
        if (not client_auth.basic_authenticates(client, secret, "token")
                or client.is_public or not client.check_grant_type(GRANT_TYPE)
                or wants_jwt(client)):
            return None
        token = generate_platform_token(GRANT_TYPE, client, scope=scope,
                                        lifetime=self.access_token_lifetime)
        insert_alone(connection)
        insert_row(PlatformToken, platform_token_row(client.client_id, token), connection)
        environ[CLIENT_ID] = client.client_id
        environ[prepared.ISSUED] = GRANT_TYPE
        return self.json(token)

    @property
    def access_token_lifetime(self) -> int:
        lifetime: int = self.app.extensions["idp.settings"].access_token_lifetime
        return lifetime


# What the grant reads of the platform (the other columns, JSON many of them, are not
# decoded here; one asked for would raise, the entity being in no session).
CREDENTIAL_COLUMNS = (Client.client_id, Client.client_secret_hash,
                      Client.token_endpoint_auth_method, Client.grant_types,
                      Client.access_token_format)


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def credentials_read() -> EntityRead[Client]:
    return EntityRead(Columns(Client, only=CREDENTIAL_COLUMNS),
                      Client.client_id == sa.bindparam("client_id"))

