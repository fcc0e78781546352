"""Proof for platforms: a platform is a controller too and must be able to prove the
consent it relies on (CNIL guidance on shared consent collection). It reads the records
of a traveller it knows, by the `sub` it received, with its client credentials or with
a platform token of the client credentials grant (scope ``consent:read``)."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from consent.models import ConsentRecord
from consent.receipts import sign_receipt
from idp.extensions import csrf, db
from idp.oauth.models import SECRET_METHODS, Client
from idp.oauth.platform_tokens import PlatformToken
from idp.oauth.server import oauth_server, platform_protector
from idp.oauth.subjects import query_user_by_sub

bp = Blueprint("consent_api", __name__)
READ_SCOPE = "consent:read"


def authenticate_platform() -> Client:
    """The platform calling: by its bearer platform token (RFC 6750 2.1), so that its
    server need not send its secret on every call, or else by its client credentials.
    Raises the OAuth error to answer (``invalid_token``, ``insufficient_scope``,
    ``invalid_client``)."""
    scheme = (request.headers.get("Authorization") or "").split(None, 1)
    if scheme and scheme[0].lower() == "bearer":
        token: PlatformToken = platform_protector().acquire_token([READ_SCOPE])
        return token.client
    server = oauth_server()
    client: Client = server.authenticate_client(server.create_oauth2_request(request),
                                                list(SECRET_METHODS),
                                                endpoint="consent_records")
    return client


@bp.route("/consent/records", methods=["GET", "POST"])
@csrf.exempt  # authenticated by client credentials or a platform token, not a session
def records_for_platform() -> ResponseReturnValue:
    try:
        client = authenticate_platform()
    except OAuth2Error as error:
        status, body, headers = error()
        return jsonify(dict(body)), status, headers
    sub = request.values.get("sub", "")
    if not sub or len(sub) > 255:
        return jsonify(error="invalid_request", error_description="'sub' is required."), 400
    # The sub is the platform's own (pairwise for its sector): it leads to the traveller
    # only for this platform, and only to its records with this platform.
    user = query_user_by_sub(client, sub)
    rows = [] if user is None else db.session.scalars(
        db.select(ConsentRecord)
        .where(ConsentRecord.client_id == client.client_id, ConsentRecord.user_id == user.id)
        .order_by(ConsentRecord.id)
    ).all()
    response = jsonify(sub=sub, records=[r.as_receipt() for r in rows],
                       receipts=[sign_receipt(r) for r in rows])
    response.headers["Cache-Control"] = "no-store"
    return response
