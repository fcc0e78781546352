"""Signed consent receipts: a JWS over the record's JSON, verifiable with /jwks.json."""

from __future__ import annotations

import json

from joserfc import jws

from consent.models import ConsentRecord
from idp.keys import DEFAULT_ALG, key_store


def sign_receipt(record: ConsentRecord) -> str:
    key = key_store().signing_key(DEFAULT_ALG)
    payload = json.dumps(record.as_receipt(), sort_keys=True, separators=(",", ":"))
    header = {"alg": DEFAULT_ALG, "kid": str(key.kid), "typ": "consent-receipt+jwt",
              "cty": "json"}
    return jws.serialize_compact(header, payload, key, algorithms=[DEFAULT_ALG])


def receipt_filename(record: ConsentRecord) -> str:
    """The name the signed receipt is downloaded under, and named on its proof page."""
    return f"consent-{record.record_id}.jws"
