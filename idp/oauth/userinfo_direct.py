"""Userinfo answered under Flask, for the common request (issue 13, part 2a).

A platform's ``GET /userinfo`` with its bearer token spent about 2 ms of CPU in process,
where a bare Flask "hello" spends 0.1: Flask's request context and hooks, Authlib's
resource protector and endpoint, the ORM session the token's rows were attached to, and
the pooled connection taken and given back through that session. The read itself (the
token with its traveller, its platform and the consent in force, one round trip) is a
fifth of it.

So the common request is answered by ``idp.prepared`` (a computed route), with one read
on a pooled connection of the app's engine, the rows made into entities in no session,
and the claims from the very functions Flask's path uses (``user_claims``, the consent
step's ``released_in_force``, ``subjects.stored_subject``). The status and headers are
those of Flask's last 200 to such a request. Nothing read from the database is kept
between requests (only what is a function of its arguments: the pairwise ``sub``, the
log pseudonym): every answer reads the token and the consent in force as they are in the
database at that moment, so a revocation or a withdrawal is refused on the very next
request, here or at any other instance.

Flask answers, as before, whatever is not the common case:

- a request that is not a GET with ``Authorization: Bearer`` and a token of the shape
  this provider issues, or that sends a query, a body, a cookie, an ``Origin``, a
  ``DPoP`` header or a conditional header;
- a token unknown, expired, revoked, bound to a DPoP key, exchanged for another
  platform's API, without the ``openid`` scope, or with a ``claims`` request;
- a consent that has just lapsed (Flask's path records its end), a pairwise ``sub``
  not yet known to be stored (Flask's path stores it), a platform that wants its
  userinfo signed;
- any database error (Flask's path answers it: a 503 when the database is away).

Each answer still counts in the metrics and the access log names its platform and its
traveller's pseudonym, as Flask's hooks do."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from idp import prepared
from idp.accounts.models import User
from idp.digests import digest
from idp.logs import CLIENT_ID, TRAVELLER, pseudonym
from idp.oauth.claims import user_claims
from idp.oauth.decisions import ConsentStep
from idp.oauth.direct import TOKEN, DirectAnswer, sends_nothing_else
from idp.oauth.models import Client, Token, userinfo_token_read
from idp.oauth.subjects import stored_subject

BEARER = re.compile(rf"[Bb][Ee][Aa][Rr][Ee][Rr] ({TOKEN})")


def accepts(environ: dict[str, Any]) -> bool:
    """A GET with a bearer token of our shape, and nothing else that counts."""
    return (environ.get("REQUEST_METHOD") == "GET"
            and BEARER.fullmatch(environ.get("HTTP_AUTHORIZATION", "")) is not None
            and not environ.get("CONTENT_TYPE") and sends_nothing_else(environ)
            and environ.get("CONTENT_LENGTH") in (None, "", "0"))


class DirectUserinfo(DirectAnswer):
    """``compute`` for ``idp.prepared``: the JSON body, or None to let Flask answer."""

    def __call__(self, environ: dict[str, Any]) -> bytes | None:
        token_string = BEARER.fullmatch(environ["HTTP_AUTHORIZATION"]).group(1)  # type: ignore[union-attr]
        step: ConsentStep = self.app.extensions["idp.consent_step"]
        # Flask's path's statement (TokenValidator.authenticate_token), with only the
        # columns this answer reads.
        found = self.read(userinfo_token_read(step.join_in_force),
                          {"token_hash": digest(token_string)})
        if found is None:
            return None
        token, in_force = found
        claims = self.claims(token, step, tuple(in_force))
        if claims is None:
            return None
        environ[CLIENT_ID] = token.client_id
        environ[TRAVELLER] = pseudonym(token.user_id, self.secret_key)
        return self.json(claims)

    def claims(self, token: Token, step: ConsentStep,
               in_force: tuple[Any, ...]) -> dict[str, Any] | None:
        """What Flask's ``UserInfoEndpoint`` answers for this token, when nothing of it
        needs Flask's path; else None."""
        if (token.is_expired() or token.is_revoked() or token.dpop_jkt is not None
                or token.audience is not None or token.claims_request is not None
                or "openid" not in token.scope.split()):
            return None
        user: User = token.user
        client: Client = token.client
        if client.client_metadata.get("userinfo_signed_response_alg"):
            return None
        released = step.released_in_force(in_force)
        if released is None:
            return None
        sub = stored_subject(self.app, user, client, self.pairwise_key)
        if sub is None:
            return None
        return user_claims(user, client, token.scope.split(), set(token.claims) & released,
                           sub=sub)


def init_app(app: Flask) -> None:
    prepared.serve_computed(app, "endpoints.userinfo", accepts, DirectUserinfo(app))
