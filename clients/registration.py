"""Registering a platform: metadata checks and storage, shared by every way in."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from clients import resources
from clients.credentials import issue_registration_token
from clients.errors import ClientMetadataError
from clients.scopes import (
    default_scopes,
    validate_grant_types,
    validate_response_types,
    validate_scope,
    validate_scope_policy,
)
from clients.sectors import SectorError, validate_sector_identifier
from clients.uris import (
    APPLICATION_TYPES,
    MAX_REDIRECT_URIS,
    validate_fetched_uri,
    validate_post_logout_redirect_uris,
    validate_redirect_uri,
    validate_web_uri,
)
from idp.digests import digest, generate_secret
from idp.extensions import db
from idp.keys import SUPPORTED_ALGS
from idp.oauth.assertions import JWKSError, validate_public_jwks
from idp.oauth.grants import CLIENT_AUTH_METHODS
from idp.oauth.models import ACCESS_TOKEN_FORMATS, OPAQUE_ACCESS_TOKENS, SECRET_METHODS, Client
from idp.oauth.subjects import sector_for, sector_of, sector_uris

MAX_CONTACTS = 10
ACCESS_TOKEN_FORMAT_FIELD = "mob_access_token_format"
# Shared Signals names no client metadata for a push endpoint (its streams are configured
# apart), so ours is a project field: where SETs are pushed (RFC 8935), idp.oauth.events.
EVENTS_URI_FIELD = "mob_events_uri"


@dataclass
class ClientMetadata:
    client_name: str
    redirect_uris: list[str]
    # None: no scope was registered; the catalogue decides (clients.scopes.default_scopes).
    scope: str | None = "openid profile email"
    public: bool = False
    require_pkce: bool = True
    logo_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    client_uri: str | None = None
    contacts: list[str] = field(default_factory=list)
    id_token_signed_response_alg: str = "RS256"
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    # Issue 14: where the platform receives the security events we push (RFC 8935).
    events_uri: str | None = None
    # RP-Initiated Logout 1.0, section 3.1.
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    # {scope: {"required": bool, "purpose": {lang: sentence}}}, shown on the consent screen.
    scope_policy: dict[str, Any] = field(default_factory=dict)
    # None lets the provider choose: from ``public``, and from offline_access for refresh.
    token_endpoint_auth_method: str | None = None
    grant_types: list[str] | None = None
    response_types: list[str] | None = None
    # RFC 7591 2: public keys for private_key_jwt, inline or by URL, never both.
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    # OIDC Core 8.1: needed when the redirect URIs are on several hosts.
    sector_identifier_uri: str | None = None
    # OIDC Registration 2: only checked; the operator alone grants public subjects.
    subject_type: str | None = None
    # "opaque" or "jwt" (RFC 9068).
    access_token_format: str = OPAQUE_ACCESS_TOKENS
    # OIDC Registration 2: "web" or "native" (RFC 8252 redirect URIs).
    application_type: str = "web"
    # RFC 9126 6: every authorization request of this client must come through /par.
    require_pushed_authorization_requests: bool = False
    # OIDC Registration 2: the one alg its request objects use (RS256 or ES256); "none"
    # (unsigned) only when the operator registers the client (``by_operator``).
    request_object_signing_alg: str | None = None
    by_operator: bool = False
    # Issue 14: the APIs the platform serves (clients.resources, ``mob_resources``).
    resources: list[resources.ResourceSpec] = field(default_factory=list)


@dataclass
class Registration:
    client: Client
    client_secret: str | None  # shown once, never stored
    registration_access_token: str | None = None  # RFC 7592; shown once, never stored
    resources: list[resources.ResourceSpec] = field(default_factory=list)  # to store


def validate_contacts(contacts: list[str]) -> list[str]:
    """RFC 7591 2: people responsible for the client, as email addresses."""
    if len(contacts) > MAX_CONTACTS:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"contacts: at most {MAX_CONTACTS} addresses.")
    for contact in contacts:
        try:
            validate_email(contact, check_deliverability=False)
        except EmailNotValidError:
            raise ClientMetadataError("invalid_client_metadata",
                                      f"contacts: {contact} is not an email address.") from None
    return list(dict.fromkeys(contacts))


def validate_auth_method(meta: ClientMetadata) -> str:
    """The token endpoint authentication method (RFC 7591 2); 'none' makes a public client."""
    method = meta.token_endpoint_auth_method or ("none" if meta.public else "client_secret_basic")
    if method not in CLIENT_AUTH_METHODS:
        raise ClientMetadataError("invalid_client_metadata",
                                  "token_endpoint_auth_method must be one of "
                                  f"{', '.join(CLIENT_AUTH_METHODS)}.")
    if meta.public and method != "none":
        raise ClientMetadataError("invalid_client_metadata",
                                  "a public client uses token_endpoint_auth_method none.")
    return method


def validate_client_keys(meta: ClientMetadata, method: str) -> None:
    """RFC 7591 2: jwks and jwks_uri are exclusive; private_key_jwt needs one of them
    (OIDC Core 9), holding public RS256 or ES256 keys only."""
    if meta.jwks is not None and meta.jwks_uri is not None:
        raise ClientMetadataError("invalid_client_metadata",
                                  "jwks and jwks_uri must not both be present.")
    if method == "private_key_jwt" and meta.jwks is None and meta.jwks_uri is None:
        raise ClientMetadataError("invalid_client_metadata",
                                  "private_key_jwt needs the client's keys: jwks or jwks_uri.")
    validate_fetched_uri("jwks_uri", meta.jwks_uri)
    if meta.jwks is not None:
        try:
            validate_public_jwks(meta.jwks)
        except JWKSError as error:
            raise ClientMetadataError("invalid_client_metadata", str(error)) from None


def validate(meta: ClientMetadata) -> None:
    if not meta.client_name.strip() or len(meta.client_name) > 120:
        raise ClientMetadataError("invalid_client_metadata",
                                  "client_name is required, at most 120 characters.")
    if not meta.redirect_uris:
        raise ClientMetadataError("invalid_redirect_uri", "at least one redirect URI is required.")
    if len(meta.redirect_uris) > MAX_REDIRECT_URIS:
        raise ClientMetadataError("invalid_redirect_uri",
                                  f"at most {MAX_REDIRECT_URIS} redirect URIs.")
    if meta.application_type not in APPLICATION_TYPES:
        raise ClientMetadataError("invalid_client_metadata",
                                  "application_type must be web or native.")
    for uri in meta.redirect_uris:
        validate_redirect_uri(uri, meta.application_type)
    validate_post_logout_redirect_uris(meta.post_logout_redirect_uris, meta.application_type)
    for name in ("logo_uri", "policy_uri", "tos_uri", "client_uri"):
        validate_web_uri(name, getattr(meta, name))
    validate_push_uri("backchannel_logout_uri", meta.backchannel_logout_uri)
    validate_push_uri(EVENTS_URI_FIELD, meta.events_uri)
    if meta.id_token_signed_response_alg not in SUPPORTED_ALGS:
        raise ClientMetadataError("invalid_client_metadata",
                                  "id_token_signed_response_alg must be RS256 or ES256.")
    if meta.public and not meta.require_pkce:
        raise ClientMetadataError("invalid_client_metadata", "a public client must use PKCE.")
    if meta.access_token_format not in ACCESS_TOKEN_FORMATS:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"{ACCESS_TOKEN_FORMAT_FIELD} must be opaque or jwt.")


def validate_push_uri(name: str, uri: str | None) -> None:
    """Where we post to a platform (Back-Channel Logout 1.0 2.2, RFC 8935 2): https (http
    on loopback in development), never a fragment."""
    validate_fetched_uri(name, uri)
    if "#" in (uri or "") or len(uri or "") > 500:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"{name}: no fragment, at most 500 characters.")


def validate_sector(meta: ClientMetadata) -> None:
    """OIDC Core 8.1: the hosts of the redirect URIs form one sector, or the platform
    proves they do at its sector_identifier_uri (fetched last: every cheap check first)."""
    validate_fetched_uri("sector_identifier_uri", meta.sector_identifier_uri)
    try:
        validate_sector_identifier(meta.sector_identifier_uri,
                                   sector_uris(meta.redirect_uris, meta.application_type))
    except SectorError as error:
        raise ClientMetadataError("invalid_client_metadata", str(error)) from None


def validate_same_sector(client: Client, meta: ClientMetadata) -> None:
    """An update keeps the sector: a new one would change every traveller's `sub` at
    this platform, and its consent records could no longer be found by it."""
    if client.id is None or client.subject_type != "pairwise":
        return
    sector = sector_for(client.client_id, meta.sector_identifier_uri, meta.redirect_uris,
                        meta.application_type)
    if sector != sector_of(client):
        raise ClientMetadataError("invalid_client_metadata",
                                  f"the sector stays {sector_of(client)}: serve there a "
                                  "sector_identifier_uri listing the new redirect URIs, or "
                                  "register anew.")


def validate_subject_type(client: Client, meta: ClientMetadata) -> None:
    """Pairwise is the default (OIDC Core 8.1). Public subjects let platforms link a
    traveller, so only the operator grants them (``idp clients subject-type``); a client
    may send back the type it has."""
    if meta.subject_type not in (None, "pairwise", client.subject_type):
        raise ClientMetadataError("invalid_client_metadata",
                                  "subject_type: only pairwise can be registered; public "
                                  "subjects are granted by the operator.")


def validate_request_object_alg(meta: ClientMetadata) -> None:
    """RFC 9101 with our keys' algorithms; an unsigned request object would let anyone
    who sees a link change the request, so only the operator may allow one."""
    allowed = ("RS256", "ES256", "none") if meta.by_operator else ("RS256", "ES256")
    if meta.request_object_signing_alg not in (None, *allowed):
        raise ClientMetadataError("invalid_client_metadata",
                                  f"request_object_signing_alg must be one of "
                                  f"{', '.join(allowed)}.")


def configure(client: Client, meta: ClientMetadata) -> str | None:
    """Check every field of ``meta``, then write them on ``client``. Returns a new secret
    when the client becomes confidential without one; a public client keeps none."""
    validate(meta)
    contacts = validate_contacts(meta.contacts)
    method = validate_auth_method(meta)
    validate_client_keys(meta, method)
    validate_response_types(meta.response_types)
    scopes = (validate_scope(meta.scope) if meta.scope is not None
              else default_scopes(meta.grant_types, method))
    policy = validate_scope_policy(meta.scope_policy, scopes)
    grant_types = validate_grant_types(meta.grant_types, scopes, method)
    validate_request_object_alg(meta)
    resources.validate(meta.resources, client.client_id)
    validate_sector(meta)
    validate_subject_type(client, meta)
    validate_same_sector(client, meta)
    secret = None
    if method not in SECRET_METHODS:
        # A public client, or one that signs with its own key, holds no secret.
        client.client_secret_hash = None
    elif not client.client_secret_hash:
        secret = generate_secret(32)
        client.client_secret_hash = digest(secret)
    client.client_name = meta.client_name.strip()
    client.redirect_uris = list(dict.fromkeys(meta.redirect_uris))
    client.post_logout_redirect_uris = list(dict.fromkeys(meta.post_logout_redirect_uris))
    client.scope = " ".join(scopes)
    client.grant_types = grant_types
    client.response_types = ["code"]
    client.token_endpoint_auth_method = method
    client.require_pkce = meta.require_pkce or method == "none"
    client.id_token_signed_response_alg = meta.id_token_signed_response_alg
    client.access_token_format = meta.access_token_format
    client.application_type = meta.application_type
    client.require_pushed_authorization_requests = meta.require_pushed_authorization_requests
    client.request_object_signing_alg = meta.request_object_signing_alg
    for name in ("logo_uri", "policy_uri", "tos_uri", "client_uri", "backchannel_logout_uri",
                 "backchannel_logout_session_required"):
        setattr(client, name, getattr(meta, name))
    client.events_uri = meta.events_uri
    client.contacts = contacts
    client.jwks = meta.jwks
    client.jwks_uri = meta.jwks_uri
    client.sector_identifier_uri = meta.sector_identifier_uri
    client.scope_policy = policy
    return secret


def prepare(meta: ClientMetadata) -> Registration:
    """A new platform checked, its sector document fetched, not yet stored: nothing in
    the database is held while a platform's server answers."""
    client = Client(client_id=new_client_id())
    return Registration(client, configure(client, meta), resources=meta.resources)


def save(registration: Registration, *, manageable: bool = False) -> Registration:
    """Store a prepared platform. ``manageable`` gives it a registration access token to
    read, update and delete its own registration (RFC 7592), as dynamic registration does."""
    client = registration.client
    token = issue_registration_token(client) if manageable else None
    db.session.add(client)
    resources.save(client, registration.resources)
    db.session.commit()
    current_app.logger.info("client registered: %s", client.client_id)
    return Registration(client, registration.client_secret, token)


def register(meta: ClientMetadata, *, manageable: bool = False) -> Registration:
    """Register a platform (checked, then stored)."""
    return save(prepare(meta), manageable=manageable)


def update(client: Client, meta: ClientMetadata) -> Registration:
    """Replace a client's metadata, checked as at registration (RFC 7592 2.2). The client
    keeps its id and secret; its registration access token is rotated."""
    secret = configure(client, meta)
    token = issue_registration_token(client)
    resources.save(client, meta.resources)
    db.session.commit()
    current_app.logger.info("client updated: %s", client.client_id)
    return Registration(client, secret, token)


def new_client_id() -> str:
    # Never a leading "-": a client_id must be usable as a command-line argument.
    return "c" + secrets.token_urlsafe(18)


def find(client_id: str) -> Client | None:
    return db.session.scalar(db.select(Client).where(Client.client_id == client_id))


def all_clients() -> Iterable[Client]:
    return db.session.scalars(db.select(Client).order_by(Client.created_at, Client.id)).all()


def delete(client: Client) -> None:
    db.session.delete(client)
    db.session.commit()
