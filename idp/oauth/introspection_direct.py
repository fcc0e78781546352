"""Introspection answered under Flask, for the common request (issue 13, part 2a).

A resource server asking about one of its own platform's tokens, with the platform's
secret in HTTP Basic, went through Flask's request context and form parsing, Authlib's
client authentication and endpoint, and the ORM session: about 1.9 ms of CPU in
process, where a bare Flask "hello" spends 0.1.

So the common request is answered by ``idp.prepared`` (a computed route): one read of
the token with its traveller and platform (Flask's path's own statement, with only the
columns this answer reads: ``models.introspected_token_read``, on a pooled connection),
the platform authenticated with that row as Flask's path does
(``check_client_secret``, ``check_endpoint_auth_method``), and the answer built by
``introspection.introspection``, which Flask's path uses too. Nothing read from the
database is kept: each answer reads the token as it is at that moment, so a revoked
token is inactive on the very next request, here or at any other instance.

Flask answers, as before, whatever is not the common case:

- a request other than a form POST of ``token`` (of the shape this provider issues) and
  perhaps ``token_type_hint``, with ``Authorization: Basic``; one with a query, a cookie,
  an ``Origin`` or a ``DPoP`` header; a body over 1 KiB;
- a token not found among travellers' grants (a platform's own token, or none), of
  another platform, exchanged for another platform's API, expired, spent or revoked
  (Flask answers ``{"active": false}``);
- credentials that do not authenticate the token's platform (Flask answers 401);
- a pairwise ``sub`` not yet known to be stored, a database error.

The request's body is read here; whatever goes to Flask gets it back unread."""

from __future__ import annotations

from typing import Any

from flask import Flask

from idp import prepared
from idp.digests import digest
from idp.logs import CLIENT_ID
from idp.oauth import client_auth
from idp.oauth.direct import (
    TOKEN_SHAPE,
    DirectAnswer,
    basic_credentials,
    basic_form_post,
    form_of,
)
from idp.oauth.introspection import IntrospectedToken, introspection
from idp.oauth.models import introspected_token_read
from idp.oauth.subjects import stored_subject

HINTS = ("access_token", "refresh_token")


class DirectIntrospection(DirectAnswer):
    """``compute`` for ``idp.prepared``: the JSON body, or None to let Flask answer."""

    def __call__(self, environ: dict[str, Any]) -> bytes | None:
        form = form_of(environ, ("token", "token_type_hint"))
        if (form is None or form.get("token_type_hint", HINTS[0]) not in HINTS
                or not TOKEN_SHAPE.fullmatch(form.get("token", ""))):
            return None
        credentials = basic_credentials(environ)
        if credentials is None:
            return None
        presented = digest(form["token"])
        # Flask's path's statement (introspection: find_token), with only the columns
        # this answer reads.
        found = self.read(introspected_token_read(), {"token_hash": presented})
        if found is None:
            return None
        row = found[0]
        client = row.client
        client_id, secret = credentials
        if (client.client_id != client_id
                or not client_auth.basic_authenticates(client, secret, "introspection")
                or row.audience is not None):
            return None
        token = IntrospectedToken(
            row, "access_token" if row.access_token_hash == presented else "refresh_token")
        if token.is_expired() or token.is_revoked():
            return None
        sub = stored_subject(self.app, row.user, client, self.pairwise_key)
        if sub is None:
            return None
        environ[CLIENT_ID] = client.client_id
        return self.json(introspection(token, self.issuer, sub))


def init_app(app: Flask) -> None:
    prepared.serve_computed(app, "endpoints.introspect", basic_form_post,
                              DirectIntrospection(app))
