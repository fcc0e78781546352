"""Proof for platforms: a platform is a controller too and must be able to prove the
consent it relies on (CNIL guidance on shared consent collection). With its client
credentials it reads the records of a traveller it knows, by the `sub` it received."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from consent.models import ConsentRecord
from consent.receipts import sign_receipt
from idp.extensions import csrf, db
from idp.oauth.models import SECRET_METHODS
from idp.oauth.server import oauth_server
from idp.oauth.subjects import query_user_by_sub

bp = Blueprint("consent_api", __name__)


@bp.route("/consent/records", methods=["GET", "POST"])
@csrf.exempt  # authenticated by client credentials, not a browser session
def records_for_platform() -> ResponseReturnValue:
    server = oauth_server()
    try:
        client = server.authenticate_client(server.create_oauth2_request(request),
                                            list(SECRET_METHODS), endpoint="consent_records")
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
