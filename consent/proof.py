"""The proof of an agreement, readable: what the traveller agreed to (each item and why it
was asked), when, with which platform, and how anyone can check our signature (the key
id, where the public key is, one command). The signed receipt itself (a JWS, RFC 7515)
stays one click away, unchanged (consent.platforms.receipt)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue

from consent.models import ConsentRecord, latest
from consent.platforms import EVENT_LABELS, traveller
from consent.receipts import receipt_filename
from consent.records import AUDIT_EVENTS
from consent.scopes import describe
from idp.keys import DEFAULT_ALG, key_store
from idp.urls import issuer_url

bp = Blueprint("proof", __name__, url_prefix="/account/platforms")

# Checks the signature with the published keys and prints the agreement; any change to
# the file, or a key that is not ours, makes it fail. Needs Python 3 and joserfc.
VERIFY_COMMAND = (
    'python3 -c "import json, sys; from joserfc import jws; from joserfc.jwk import KeySet; '
    "keys = KeySet.import_key_set(json.load(open(sys.argv[2]))); "
    'print(jws.deserialize_compact(open(sys.argv[1]).read().strip(), keys).payload.decode())" '
    "{receipt} jwks.json"
)


@bp.route("/<client_id>/proof")
def show(client_id: str) -> ResponseReturnValue:
    user = traveller()
    record = latest(user.id, client_id)
    if record is None:
        abort(404)
    key = key_store().signing_key(DEFAULT_ALG)  # the key the receipt is signed with
    return render_template(
        "consent/proof.html", record=record, items=items_of(record),
        alg=DEFAULT_ALG, kid=str(key.kid),
        event_label=EVENT_LABELS[AUDIT_EVENTS[record.event_type]],
        jwks_url=issuer_url("endpoints.jwks"), filename=receipt_filename(record),
        command=VERIFY_COMMAND.format(receipt=receipt_filename(record)))


def items_of(record: ConsentRecord) -> list[dict[str, Any]]:
    """Each item agreed to or refused, with its title and purpose in today's words, and
    whether those words changed since (the record keeps the version it showed)."""
    granted = [s for s in record.scopes_granted if s != "openid"]
    shown = {p.get("id"): p.get("version") for p in record.purposes}
    return [{"scope": describe(s), "granted": s in granted,
             "changed": s in shown and shown[s] != describe(s).version}
            for s in ["openid", *granted, *record.scopes_refused]]
