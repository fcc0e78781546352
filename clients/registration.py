"""Registering a platform: metadata checks and storage, shared by every way in."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from consent.scopes import describe
from idp.digests import digest, generate_secret
from idp.extensions import db
from idp.keys import SUPPORTED_ALGS
from idp.oauth.claims import supported_scopes
from idp.oauth.models import Client
from idp.settings import is_loopback


class ClientMetadataError(ValueError):
    """Invalid metadata; ``error`` is the RFC 7591 error code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class ClientMetadata:
    client_name: str
    redirect_uris: list[str]
    scope: str = "openid profile email"
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
    # {scope: {"required": bool, "purpose": {lang: sentence}}}, shown on the consent screen.
    scope_policy: dict[str, Any] = field(default_factory=dict)


@dataclass
class Registration:
    client: Client
    client_secret: str | None  # shown once, never stored


def validate_redirect_uri(uri: str) -> None:
    """Absolute, no fragment (RFC 6749 3.1.2), https; http only on loopback (RFC 8252 7.3)."""
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ClientMetadataError("invalid_redirect_uri", f"{uri}: a fragment is not allowed.")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ClientMetadataError("invalid_redirect_uri", f"{uri}: must be an absolute URL.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ClientMetadataError("invalid_redirect_uri", f"{uri}: must use https.")


def validate_web_uri(name: str, uri: str | None) -> None:
    if uri is None:
        return
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ClientMetadataError("invalid_client_metadata", f"{name} must be an absolute URL.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ClientMetadataError("invalid_client_metadata", f"{name} must use https.")


def validate_scope(scope: str) -> list[str]:
    scopes = scope.split()
    unknown = [s for s in scopes if s not in supported_scopes()]
    if unknown:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"unknown scope: {' '.join(unknown)}")
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return scopes


def validate_scope_policy(policy: dict[str, Any], scopes: list[str]) -> dict[str, Any]:
    """Each declared scope: one the platform may ask for, required or optional, with a
    purpose sentence per language. A sensitive scope can never be required."""
    clean: dict[str, Any] = {}
    for scope, entry in policy.items():
        if scope not in scopes or scope == "openid":
            raise ClientMetadataError("invalid_client_metadata",
                                      f"scope_policy names {scope}, not in the client's scope.")
        if not isinstance(entry, dict):
            raise ClientMetadataError("invalid_client_metadata",
                                      f"scope_policy.{scope} must be an object.")
        required = entry.get("required", False)
        purpose = entry.get("purpose") or {}
        if not isinstance(required, bool) or not isinstance(purpose, dict) or not purpose:
            raise ClientMetadataError(
                "invalid_client_metadata",
                f"scope_policy.{scope} needs a boolean 'required' and a 'purpose' by language.")
        if any(not isinstance(t, str) or not t.strip() or len(t) > 300
               for t in purpose.values()) or any(len(k) > 16 for k in purpose):
            raise ClientMetadataError("invalid_client_metadata",
                                      f"scope_policy.{scope}.purpose: sentences up to 300 "
                                      "characters, keyed by language tag.")
        if required and describe(scope).sensitive:
            raise ClientMetadataError("invalid_client_metadata",
                                      f"{scope} is sensitive and can never be required.")
        clean[scope] = {"required": required,
                        "purpose": {k: v.strip() for k, v in purpose.items()}}
    return clean


def validate(meta: ClientMetadata) -> None:
    if not meta.client_name.strip() or len(meta.client_name) > 120:
        raise ClientMetadataError("invalid_client_metadata",
                                  "client_name is required, at most 120 characters.")
    if not meta.redirect_uris:
        raise ClientMetadataError("invalid_redirect_uri", "at least one redirect URI is required.")
    for uri in meta.redirect_uris:
        validate_redirect_uri(uri)
    for name in ("logo_uri", "policy_uri", "tos_uri", "client_uri"):
        validate_web_uri(name, getattr(meta, name))
    # Back-Channel Logout 1.0 2.2: https (http on loopback), never a fragment.
    validate_web_uri("backchannel_logout_uri", meta.backchannel_logout_uri)
    if "#" in (meta.backchannel_logout_uri or "") or len(meta.backchannel_logout_uri or "") > 500:
        raise ClientMetadataError("invalid_client_metadata",
                                  "backchannel_logout_uri: no fragment, at most 500 characters.")
    if meta.id_token_signed_response_alg not in SUPPORTED_ALGS:
        raise ClientMetadataError("invalid_client_metadata",
                                  "id_token_signed_response_alg must be RS256 or ES256.")
    if meta.public and not meta.require_pkce:
        raise ClientMetadataError("invalid_client_metadata", "a public client must use PKCE.")


def register(meta: ClientMetadata) -> Registration:
    validate(meta)
    scopes = validate_scope(meta.scope)
    if "offline_access" in scopes and meta.public:
        raise ClientMetadataError("invalid_client_metadata",
                                  "offline_access is for confidential clients only.")
    policy = validate_scope_policy(meta.scope_policy, scopes)
    secret = None if meta.public else generate_secret(32)
    grant_types = ["authorization_code"]
    if "offline_access" in scopes:
        grant_types.append("refresh_token")
    client = Client(
        client_id=secrets.token_urlsafe(18),
        client_secret_hash=digest(secret) if secret else None,
        client_name=meta.client_name.strip(),
        redirect_uris=list(dict.fromkeys(meta.redirect_uris)),
        scope=" ".join(scopes),
        grant_types=grant_types,
        response_types=["code"],
        token_endpoint_auth_method="none" if meta.public else "client_secret_basic",
        require_pkce=meta.require_pkce or meta.public,
        id_token_signed_response_alg=meta.id_token_signed_response_alg,
        logo_uri=meta.logo_uri,
        policy_uri=meta.policy_uri,
        tos_uri=meta.tos_uri,
        client_uri=meta.client_uri,
        contacts=list(meta.contacts),
        backchannel_logout_uri=meta.backchannel_logout_uri,
        backchannel_logout_session_required=meta.backchannel_logout_session_required,
        scope_policy=policy,
    )
    db.session.add(client)
    db.session.commit()
    current_app.logger.info("client registered: %s", client.client_id)
    return Registration(client, secret)


def find(client_id: str) -> Client | None:
    return db.session.scalar(db.select(Client).where(Client.client_id == client_id))


def all_clients() -> Iterable[Client]:
    return db.session.scalars(db.select(Client).order_by(Client.created_at, Client.id)).all()


def delete(client: Client) -> None:
    db.session.delete(client)
    db.session.commit()
