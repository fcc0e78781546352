"""The registration endpoint (RFC 7591 3) and the client configuration endpoint
(RFC 7592 2), for platforms: JSON in and out, bearer tokens, never a cookie. Every rule
about the metadata lives in ``clients.registration``; this module speaks HTTP."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import InvalidClientMetadataError, InvalidRedirectURIError
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from clients.credentials import (
    check_initial_access_token,
    check_registration_token,
    spend_initial_access_token,
)
from clients.metadata import (
    ISSUED,
    client_information,
    from_json,
    registration_information,
)
from clients.registration import ClientMetadataError, delete, find, prepare, save, update
from idp.extensions import csrf, db
from idp.oauth.models import Client

bp = Blueprint("registration", __name__)
# Platforms call these with bearer tokens and JSON, never with a browser's cookies.
csrf.exempt(bp)

REALM = "registration"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenRequiredError(InvalidTokenError):
    """No bearer token at all: RFC 6750 3.1 sends the bare challenge, with no error code."""

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = [
            *NO_STORE.items(), ("Content-Type", "application/json"),
            ("WWW-Authenticate", f'Bearer realm="{REALM}"'),
        ]
        return headers


def bearer_token(description: str) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRequiredError(description, realm=REALM)
    return token.strip()


@bp.post("/register")
def register_client() -> ResponseReturnValue:
    """RFC 7591 3.1: a platform registers itself with an operator's initial access token.
    The token is checked first (a read), the metadata next, with the sector document
    fetched while nothing is held; only then is a use of the token spent, with its row
    locked until the client is stored. A refused registration spends nothing."""
    token = bearer_token("An initial access token is required.")
    if not check_initial_access_token(token):
        raise used_up_token()
    db.session.close()  # no transaction or pooled connection kept during the fetch
    pending = prepare(from_json(request.get_json(silent=True)))
    token_id = spend_initial_access_token(token)
    if token_id is None:  # used up by another registration meanwhile
        raise used_up_token()
    registration = save(pending, manageable=True)
    current_app.logger.info("client %s registered with initial access token #%d",
                            registration.client.client_id, token_id)
    return answer(registration_information(registration), 201)


def used_up_token() -> InvalidTokenError:
    return InvalidTokenError("The initial access token is invalid, expired or used up.",
                             realm=REALM)


def authenticated_client(client_id: str) -> tuple[Client, str]:
    """RFC 7592 3: the registration access token of this very client, and no other."""
    token = bearer_token("A registration access token is required.")
    client = find(client_id)
    if client is None or not check_registration_token(client, token):
        raise InvalidTokenError("The registration access token is not valid for this client.",
                                realm=REALM)
    return client, token


@bp.get("/register/<client_id>")
def read_client(client_id: str) -> ResponseReturnValue:
    """RFC 7592 2.1. Only the digest of the token is stored, so the one presented is
    the one returned: it stays valid until the next update."""
    client, token = authenticated_client(client_id)
    return answer(client_information(client, token))


@bp.put("/register/<client_id>")
def update_client(client_id: str) -> ResponseReturnValue:
    """RFC 7592 2.2: the body replaces the whole registration; a new registration access
    token is returned and the old one stops working."""
    client, _ = authenticated_client(client_id)
    data: Any = request.get_json(silent=True)
    meta = from_json(data)  # refuses anything but a JSON object
    check_update_request(client, data)
    return answer(registration_information(update(client, meta)))


@bp.delete("/register/<client_id>")
def delete_client(client_id: str) -> ResponseReturnValue:
    """RFC 7592 2.3: the client, its codes and its tokens are gone."""
    client, _ = authenticated_client(client_id)
    delete(client)
    current_app.logger.info("client deleted by itself: %s", client_id)
    return Response(status=204, headers=NO_STORE)


def check_update_request(client: Client, data: dict[str, Any]) -> None:
    """RFC 7592 2.2: the body names the client by its own client_id, sets none of the
    values the provider issues, and a client_secret in it must be the current one."""
    if data.get("client_id") != client.client_id:
        raise InvalidRequestError("client_id must be the client's own client_id.")
    issued = [name for name in ISSUED if name in data]
    if issued:
        raise InvalidRequestError(f"{', '.join(issued)}: issued by the provider, not sent.")
    secret = data.get("client_secret")
    if "client_secret" in data and not (isinstance(secret, str)
                                        and client.check_client_secret(secret)):
        raise InvalidRequestError("client_secret is not the one issued to this client.")


def answer(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(NO_STORE)  # the body carries credentials
    return response


def printable(text: str, limit: int = 300) -> str:
    """RFC 6749 5.2: error_description is ASCII without quote or backslash; values echoed
    from the request (a URI, an address) are made to fit."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)[:limit]


@bp.errorhandler(ClientMetadataError)
def metadata_error(error: ClientMetadataError) -> ResponseReturnValue:
    """RFC 7591 3.2.2: refused metadata, with the rule it broke."""
    kind = InvalidRedirectURIError if error.error == "invalid_redirect_uri" else (
        InvalidClientMetadataError)
    return protocol_error(kind(printable(error.description)))


@bp.errorhandler(OAuth2Error)
def protocol_error(error: OAuth2Error) -> ResponseReturnValue:
    # Nothing half-done stays: a spent use of an initial access token comes back.
    db.session.rollback()
    status, body, headers = error()
    return jsonify(dict(body)), status, headers


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> ResponseReturnValue:
    db.session.rollback()
    body = jsonify(error="invalid_request", error_description=error.name)
    return body, error.code or 400, NO_STORE
