"""Client metadata as platforms send it (RFC 7591 2, OpenID Connect Registration 1.0 2,
Back-Channel Logout 1.0 2.2): JSON checked for its types, then handed to
``clients.registration`` for every rule about the values; and the client information
response (RFC 7591 3.2.1, RFC 7592 3) built from what was stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import current_app

from clients import resources
from clients.errors import ClientMetadataError
from clients.registration import (
    ACCESS_TOKEN_FORMAT_FIELD,
    EVENTS_URI_FIELD,
    ClientMetadata,
    Registration,
)
from clients.scopes import POLICY_FIELD
from idp.oauth.models import OPAQUE_ACCESS_TOKENS, Client

STRINGS = ("client_name", "logo_uri", "policy_uri", "tos_uri", "client_uri", "scope",
           "token_endpoint_auth_method", "id_token_signed_response_alg",
           "backchannel_logout_uri", "jwks_uri", "sector_identifier_uri", "subject_type",
           "application_type", "request_object_signing_alg", ACCESS_TOKEN_FORMAT_FIELD,
           EVENTS_URI_FIELD)
LISTS = ("redirect_uris", "contacts", "grant_types", "response_types",
         "post_logout_redirect_uris")
# Fields a client may not set: they are the provider's to issue (RFC 7592 2.2).
ISSUED = ("registration_access_token", "registration_client_uri", "client_secret_expires_at",
          "client_id_issued_at")


def invalid(description: str) -> ClientMetadataError:
    return ClientMetadataError("invalid_client_metadata", description)


def check_types(data: dict[str, Any]) -> None:
    """Each understood field has its JSON type; fields we do not understand are ignored,
    as RFC 7591 2 asks."""
    for name in STRINGS:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise invalid(f"{name} must be a string.")
    for name in LISTS:
        value = data.get(name)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            error = "invalid_redirect_uri" if name == "redirect_uris" else "invalid_client_metadata"
            raise ClientMetadataError(error, f"{name} must be an array of strings.")
    for flag in ("backchannel_logout_session_required", "require_pushed_authorization_requests"):
        if data.get(flag) is not None and not isinstance(data[flag], bool):
            raise invalid(f"{flag} must be a boolean.")
    if data.get("jwks") is not None and not isinstance(data["jwks"], dict):
        raise invalid("jwks must be an object with a 'keys' array.")
    if not isinstance(data.get(POLICY_FIELD) or {}, dict):
        raise invalid(f"{POLICY_FIELD} must be an object: scope to required and purpose.")


def from_json(data: Any) -> ClientMetadata:
    """The metadata of a registration or of an update (which replaces every field: an
    omitted one takes its default, RFC 7592 2.2)."""
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object (Content-Type: application/json).")
    check_types(data)
    return ClientMetadata(
        client_name=data.get("client_name") or "",
        redirect_uris=data.get("redirect_uris") or [],
        post_logout_redirect_uris=data.get("post_logout_redirect_uris") or [],
        # No scope (OIDC Registration 1.0 has none): the catalogue's set, shown in the
        # response (RFC 7591 3.2.1). Sensitive and verified scopes need to be named.
        scope=data.get("scope"),
        logo_uri=data.get("logo_uri"),
        policy_uri=data.get("policy_uri"),
        tos_uri=data.get("tos_uri"),
        client_uri=data.get("client_uri"),
        contacts=data.get("contacts") or [],
        id_token_signed_response_alg=data.get("id_token_signed_response_alg") or "RS256",
        backchannel_logout_uri=data.get("backchannel_logout_uri"),
        backchannel_logout_session_required=bool(
            data.get("backchannel_logout_session_required")),
        events_uri=data.get(EVENTS_URI_FIELD),
        scope_policy=data.get(POLICY_FIELD) or {},
        token_endpoint_auth_method=data.get("token_endpoint_auth_method"),
        grant_types=data.get("grant_types"),
        response_types=data.get("response_types"),
        jwks=data.get("jwks"),
        jwks_uri=data.get("jwks_uri"),
        sector_identifier_uri=data.get("sector_identifier_uri"),
        subject_type=data.get("subject_type"),
        access_token_format=data.get(ACCESS_TOKEN_FORMAT_FIELD) or OPAQUE_ACCESS_TOKENS,
        application_type=data.get("application_type") or "web",
        require_pushed_authorization_requests=bool(
            data.get("require_pushed_authorization_requests")),
        request_object_signing_alg=data.get("request_object_signing_alg"),
        resources=resources.from_json(data.get(resources.FIELD)),
    )


def registration_client_uri(client: Client) -> str:
    issuer = current_app.extensions["idp.settings"].issuer
    return f"{issuer}/register/{quote(client.client_id, safe='')}"


def client_information(client: Client, registration_access_token: str,
                       client_secret: str | None = None) -> dict[str, Any]:
    """Everything registered, as stored, with the credentials the client needs. The
    secret appears only when it was just issued: only its digest is kept."""
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created_at.timestamp()),
        **client.client_metadata,
        POLICY_FIELD: client.scope_policy,
        ACCESS_TOKEN_FORMAT_FIELD: client.access_token_format,
        EVENTS_URI_FIELD: client.events_uri,
        resources.FIELD: resources.as_json(client),
        "registration_access_token": registration_access_token,
        "registration_client_uri": registration_client_uri(client),
    }
    if client_secret is not None:
        body["client_secret"] = client_secret
    if client.client_secret_hash:
        body["client_secret_expires_at"] = 0  # never expires
    return body


def registration_information(registration: Registration) -> dict[str, Any]:
    assert registration.registration_access_token is not None
    return client_information(registration.client, registration.registration_access_token,
                              registration.client_secret)
