"""Pushed Authorization Requests (RFC 9126): a platform POSTs its authorization request
to ``/par``, authenticated as at the token endpoint, and receives a ``request_uri`` it
sends to ``/authorize`` with its ``client_id``. The request is checked here as /authorize
would check it (RFC 9126 2.1), so that a bad one is refused to the platform, in JSON,
before a traveller is ever sent. It is kept in the database (every instance sees it),
under the SHA-256 of its request_uri, for one use within a minute. A ``DPoP`` proof sent
with it binds the code to come to the proof's key (RFC 9449 10.1)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import LoginRequiredError
from flask import Blueprint, current_app, jsonify
from flask import request as flask_request
from flask.typing import ResponseReturnValue
from sqlalchemy import CursorResult, delete

from idp.digests import digest, generate_secret
from idp.extensions import csrf, db, utcnow
from idp.oauth import dpop, dpop_nonce
from idp.oauth.grants import CLIENT_AUTH_METHODS
from idp.oauth.interactions import AuthorizationRequest
from idp.oauth.models import Client, PushedAuthorizationRequest
from idp.oauth.request_checks import validate_authorization_request, validate_extras
from idp.oauth.request_objects import unpack
from idp.oauth.server import oauth_server
from idp.urls import issuer_url

bp = Blueprint("par", __name__)
bp.after_request(dpop_nonce.add_nonce_header)  # RFC 9449 8: proofs are checked here too
URN_PREFIX = "urn:ietf:params:oauth:request_uri:"
LIFETIME = 60  # seconds (RFC 9126 2.2: short-lived, a minute is ample)
# Client authentication, not authorization parameters (RFC 9126 2.1).
CREDENTIALS = ("client_secret", "client_assertion", "client_assertion_type")
Params = list[tuple[str, str]]


class InvalidRequestUriError(OAuth2Error):
    """RFC 9101 6.2: the request_uri is unknown, used, expired or not this client's."""

    error = "invalid_request_uri"


class RequestUriNotSupportedError(OAuth2Error):
    """OIDC Core 3.1.2.6: only our own pushed requests' URNs are accepted."""

    error = "request_uri_not_supported"


@bp.route("/par", methods=["POST"])
@csrf.exempt  # platforms authenticate themselves; there is no browser here
def push() -> ResponseReturnValue:
    """RFC 9126 2: authenticate the client, check its request, answer 201 with the URN."""
    server = oauth_server()
    oauth_request = server.create_oauth2_request(flask_request)
    try:
        client = server.authenticate_client(oauth_request, CLIENT_AUTH_METHODS, "par")
        params = pushed_params(client)
    except OAuth2Error as error:
        # RFC 9126 2.3: errors are answered to the platform, never redirected.
        error.redirect_uri, error.state = None, None
        return server.handle_error_response(oauth_request, error)  # type: ignore[no-any-return]
    response = jsonify(request_uri=save(client.client_id, params), expires_in=LIFETIME)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


def pushed_params(client: Client) -> Params:
    """The authorization parameters of the body (or of the request object it carries)."""
    params: Params = [(k, v) for k in flask_request.form
                      for v in flask_request.form.getlist(k) if k not in CREDENTIALS]
    if sum(len(k) + len(v) for k, v in params) > settings().max_authorization_request:
        raise InvalidRequestError("The authorization request is too large.")
    if any(count > 1 for count in Counter(name for name, _ in params).values()):
        raise InvalidRequestError("A parameter is repeated.")
    data = dict(params)
    if "request_uri" in data:
        raise InvalidRequestError("'request_uri' cannot be pushed (RFC 9126 2.1).")
    if data.get("client_id", client.client_id) != client.client_id:
        raise InvalidRequestError("'client_id' is not the authenticated client.")
    if "request" in data:
        params = unpack(data["request"], client, params, None)
    params = [("client_id", client.client_id),
              *[(k, v) for k, v in params if k != "client_id"], *bound_key(dict(params))]
    validate_pushed(params)
    return params


def bound_key(data: dict[str, str]) -> Params:
    """RFC 9449 10.1: a ``DPoP`` proof at /par binds the code to its key, as ``dpop_jkt``
    would; when both are sent they must name the same key."""
    jkt = dpop.thumbprint_of_request(flask_request.headers, "POST", issuer_url("par.push"))
    if jkt is None:
        return []
    if data.get("dpop_jkt", jkt) != jkt:
        raise InvalidRequestError("'dpop_jkt' is not the key of the DPoP proof.")
    return [] if "dpop_jkt" in data else [("dpop_jkt", jkt)]


def validate_pushed(params: Params) -> None:
    """Every check /authorize makes (RFC 9126 2.1), with no traveller yet: whether one is
    signed in, for ``prompt=none``, is known only at /authorize (OIDC Core 3.1.2.6)."""
    oauth_request = AuthorizationRequest(params)
    try:
        validate_authorization_request(oauth_request, None)
    except LoginRequiredError as error:
        validate_extras(oauth_request, error.redirect_uri)


def save(client_id: str, params: Params) -> str:
    """Keep the request under the digest of a new request_uri; purge the expired ones."""
    now = utcnow()
    db.session.execute(delete(PushedAuthorizationRequest)
                       .where(PushedAuthorizationRequest.expires_at < now)
                       .execution_options(synchronize_session=False))
    request_uri = URN_PREFIX + generate_secret(32)
    db.session.add(PushedAuthorizationRequest(
        request_uri_hash=digest(request_uri), client_id=client_id,
        params=[list(pair) for pair in params],
        expires_at=now + timedelta(seconds=LIFETIME)))
    db.session.commit()
    return request_uri


def take(request_uri: str, client_id: str, redirect_uri: str | None) -> Params:
    """The pushed request's parameters, once: the row is deleted by the one request that
    wins it (RFC 9126 4). Another client's URN is refused and left for its owner."""
    if not request_uri.startswith(URN_PREFIX):
        raise RequestUriNotSupportedError(
            "Only request_uri values from the pushed authorization request endpoint.",
            redirect_uri=redirect_uri)
    row = db.session.scalar(db.select(PushedAuthorizationRequest).where(
        PushedAuthorizationRequest.request_uri_hash == digest(request_uri)))
    if row is None or row.client_id != client_id:
        raise unusable(redirect_uri)
    params, expires_at = list(row.params), row.expires_at  # the row is gone after commit
    result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        delete(PushedAuthorizationRequest).where(PushedAuthorizationRequest.id == row.id)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount != 1 or expires_at <= utcnow():
        raise unusable(redirect_uri)
    return [(str(name), str(value)) for name, value in params]


def unusable(redirect_uri: str | None) -> InvalidRequestUriError:
    return InvalidRequestUriError("The request_uri is unknown, expired or already used.",
                                  redirect_uri=redirect_uri)


def settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["idp.settings"]
