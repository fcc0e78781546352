"""What the answers made under Flask share (``idp.prepared``'s computed routes, issue 13):
userinfo (``userinfo_direct``), introspection (``introspection_direct``), and at the
token endpoint (``token_direct``) the client credentials grant
(``client_credentials_direct``) and the refresh grant (``refresh_direct``).

Each answers only the common request, from one read on the connection its thread
keeps (``idp.db_pool.HeldConnections``), with the rows made into entities in no session
and the answer built by the functions Flask's path uses; anything else it leaves to
Flask by returning None."""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import InvalidClientError
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from idp.db_pool import HeldConnections
from idp.direct_sql import EntityRead, json_list_has
from idp.oauth import client_auth
from idp.oauth.models import JWT_ACCESS_TOKENS, SECRET_METHODS, Client
from idp.oauth.subjects import pairwise_key_of

E = TypeVar("E")
# ``generate_secret(32)``: the 43 characters of base64url of every token this provider
# issues. Any other value is for Flask (the guard, the error answers).
TOKEN = r"[A-Za-z0-9_-]{43}"
TOKEN_SHAPE = re.compile(TOKEN)
# Sent, any of these makes the answer Flask's business.
TO_FLASK = ("QUERY_STRING", "HTTP_COOKIE", "HTTP_ORIGIN", "HTTP_DPOP", "HTTP_IF_NONE_MATCH",
            "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE",
            "HTTP_IF_RANGE", "HTTP_RANGE")
FORM = "application/x-www-form-urlencoded"
LARGEST_FORM = 1024  # bytes: a token, a grant type or a scope need a tenth of it


def sends_nothing_else(environ: Mapping[str, Any]) -> bool:
    return not any(environ.get(key) for key in TO_FLASK)


def basic_form_post(environ: Mapping[str, Any]) -> bool:
    """A small form POST with HTTP Basic credentials, and nothing else that counts."""
    length = environ.get("CONTENT_LENGTH") or ""
    return (environ.get("REQUEST_METHOD") == "POST"
            and environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() == FORM
            and length.isdigit() and 0 < int(length) <= LARGEST_FORM
            and environ.get("HTTP_AUTHORIZATION", "")[:6].lower() == "basic "
            and sends_nothing_else(environ))


def basic_credentials(environ: Mapping[str, Any]) -> tuple[str, str] | None:
    """The client_id and secret of the Basic header, or None (Flask answers a malformed
    one)."""
    try:
        return client_auth.parse_basic(environ.get("HTTP_AUTHORIZATION"))
    except InvalidClientError:
        return None


def form_of(environ: dict[str, Any], allowed: Collection[str]) -> dict[str, str] | None:
    """The body of a ``basic_form_post``, read here and handed back for Flask to read
    again, as fields each sent once, all of them ``allowed``; else None."""
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        fields = parse_qsl(body.decode("ascii"), keep_blank_values=True,
                           strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(fields)
    if len(form) != len(fields) or not set(form) <= set(allowed):
        return None
    return form


def basic_platform_may(grant_type: str) -> list[sa.ColumnElement[bool]]:
    """What Flask's path asks at the token endpoint of the platform a Basic header names,
    as conditions on its row (``Client``'s table), for a statement that writes only if
    they hold: it authenticates with the secret whose digest is the parameter
    ``secret_hash``, by a method that allows Basic (``client_auth.basic_authenticates``:
    ``check_client_secret``, ``check_endpoint_auth_method``; a public platform has none),
    it is registered for ``grant_type`` (``check_grant_type``) and wants opaque access
    tokens (``wants_jwt``: JWT ones are signed on Flask's path). The digests are compared
    by the database: timing could tell at most how much of the stored digest a guess's
    digest matches, which leaves a 32-byte secret to find from its SHA-256."""
    clients = Client.__table__.c
    return [clients.client_secret_hash == sa.bindparam("secret_hash"),
            sa.or_(*(clients.token_endpoint_auth_method == method
                     for method in SECRET_METHODS)),
            json_list_has(clients.grant_types, grant_type),
            clients.access_token_format != JWT_ACCESS_TOKENS]


class DirectAnswer:
    """The app's connections, keys and JSON encoding, taken once."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        # This thread's connection, kept between requests (idp.db_pool.HeldConnections).
        self.held: HeldConnections = app.extensions["idp.held_connections"]
        self.issuer = str(app.extensions["idp.settings"].issuer)
        self.secret_key: str = app.extensions["idp.settings"].secret_key
        self.pairwise_key = pairwise_key_of(self.secret_key)

    def read(self, statement: EntityRead[E],
             params: Mapping[str, Any]) -> tuple[E, list[Any]] | None:
        """The entity and extra columns, or None: no row, or a database error (Flask's
        path meets it too, and answers it: a 503 when the database is away)."""
        try:
            with self.held.connection() as connection:
                return statement.first_detached(connection, params)
        except SQLAlchemyError:
            return None

    def json(self, payload: Mapping[str, Any]) -> bytes:
        """As Authlib's Flask integration encodes it (flask.json: the app's provider)."""
        return self.app.json.dumps(payload).encode()
