"""The ``claims`` request parameter (OIDC Core 5.5): which claims a platform would like,
in the ID token or from userinfo, as essential or voluntary, and with which values.

A claim it names beyond the scopes is put to the traveller by the consent step (which
decides what may be asked); whatever it names is released only once the traveller
agreed to it, and the ID token only carries claims of non-sensitive scopes
(shared/SCOPES.md: sensitive data goes through userinfo only)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError

MEMBERS = ("userinfo", "id_token")
ClaimsRequest = dict[str, dict[str, dict[str, Any] | None]]
MAX_CLAIMS = 50


def parse_claims_request(raw: str | None, redirect_uri: str) -> ClaimsRequest | None:
    """5.5: a JSON object whose ``userinfo`` and ``id_token`` members map claim names to
    null or to an object with ``essential``, ``value`` or ``values``. Other members are
    ignored, as 5.5 asks; anything malformed is invalid_request."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidRequestError("'claims' must be a JSON object.", redirect_uri=redirect_uri)
    parsed: ClaimsRequest = {}
    for member in MEMBERS:
        if member in data:
            parsed[member] = parse_member(member, data[member], redirect_uri)
    return parsed


def parse_member(member: str, value: Any, redirect_uri: str) -> dict[str, dict[str, Any] | None]:
    if not isinstance(value, dict) or len(value) > MAX_CLAIMS:
        raise InvalidRequestError(f"'claims.{member}' must be an object of claim names.",
                                  redirect_uri=redirect_uri)
    for name, spec in value.items():
        if spec is None:
            continue
        if (not isinstance(spec, dict)
                or not isinstance(spec.get("essential", False), bool)
                or not isinstance(spec.get("values", []), list)):
            raise InvalidRequestError(
                f"'claims.{member}.{name}' must be null or an object with a boolean "
                "'essential', a 'value' or a list of 'values'.", redirect_uri=redirect_uri)
    return dict(value)


def requested(claims_request: Mapping[str, Any] | None, member: str) -> dict[str, Any] | None:
    """The claims one member names, or None when the member was not sent."""
    if not claims_request or member not in claims_request:
        return None
    return dict(claims_request[member])


def keep_for_id_token(claims_request: ClaimsRequest | None,
                      allowed: Iterable[str]) -> ClaimsRequest | None:
    """The request as stored with the code: its ``id_token`` member cut down to the
    claims the traveller released that may travel in an ID token, and ``acr``, whose
    values choose the class the ID token states."""
    if claims_request is None or "id_token" not in claims_request:
        return claims_request
    kept = {*allowed, "acr"}
    id_token = {k: v for k, v in claims_request["id_token"].items() if k in kept}
    return {**claims_request, "id_token": id_token}


def matches(spec: Mapping[str, Any] | None, value: Any) -> bool:
    """5.5.1: a claim asked with ``value`` or ``values`` is released only with one of
    them; the traveller's data is never changed to fit."""
    if not spec:
        return True
    if "value" in spec:
        return bool(value == spec["value"])
    if "values" in spec:
        return value in spec["values"]
    return True


def select(claims: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """OIDC Core 5.5: claims asked one by one come in addition to the scopes' claims —
    never beyond what the traveller released — and one asked with ``value`` or
    ``values`` is left out when the traveller's value is not among them."""
    return {name: value for name, value in claims.items()
            if name == "sub" or name not in wanted or matches(wanted[name], value)}
