"""The APIs a platform serves (issue 14, RFC 8707 resources), as it registers them: by
the CLI (``idp clients resource``) or in its registration metadata under ``mob_resources``
(RFC 7591 2 lets a provider define members; ours carry the ``mob_`` prefix):

    "mob_resources": [{
        "resource": "https://api.covoiturage-national.example/",
        "name": "Covoiturage national API",
        "actions": {"trips:search": {"en": "search rides", "fr": "chercher des trajets"},
                    "bookings:create": {"en": "book seats", "fr": "réserver des places"}},
        "claims": ["nickname", "phone_number"]
    }]

Each action's words complete the consent sentence "<platform> may ... on <this
platform> for you", in English and French. ``claims`` are what the platform needs to
serve the actions; the traveller ticks each one or not. A resource URI is unique across
platforms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from clients.errors import ClientMetadataError
from clients.uris import MAX_URI, allows_http, parse
from consent.scopes import describe
from idp.extensions import db
from idp.oauth.claims import scope_of, supported_claims, supported_scopes
from idp.oauth.models import Client
from idp.oauth.resources import MAX_URI_LENGTH, Resource, query_resource, resources_of

FIELD = "mob_resources"
LANGUAGES = ("en", "fr")
ACTION = re.compile(r"[a-z][a-z0-9_-]{0,30}:[a-z][a-z0-9_-]{0,30}")
MAX_RESOURCES = 10
MAX_ACTIONS = 20
MAX_WORDS = 80  # characters of an action's description


@dataclass
class ResourceSpec:
    resource: str
    name: str
    actions: dict[str, dict[str, str]]
    claims: list[str] = field(default_factory=list)


def invalid(description: str) -> ClientMetadataError:
    return ClientMetadataError("invalid_client_metadata", f"{FIELD}: {description}")


def from_json(value: Any) -> list[ResourceSpec]:
    """The member's JSON types; every rule about the values is in ``validate``."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid("must be an array of objects.")
    specs = []
    for item in value:
        actions, claims = item.get("actions"), item.get("claims") or []
        if not isinstance(item.get("resource"), str) or not isinstance(item.get("name"), str):
            raise invalid("each resource needs 'resource' and 'name' strings.")
        if not isinstance(actions, dict) or not all(
                isinstance(words, dict) and all(isinstance(w, str) for w in words.values())
                for words in actions.values()):
            raise invalid("'actions' maps each action to its words by language.")
        if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
            raise invalid("'claims' must be an array of claim names.")
        specs.append(ResourceSpec(item["resource"], item["name"], actions, claims))
    return specs


def validate(specs: list[ResourceSpec], client_id: str | None) -> list[ResourceSpec]:
    if len(specs) > MAX_RESOURCES:
        raise invalid(f"at most {MAX_RESOURCES} resources.")
    uris = [spec.resource for spec in specs]
    if len(set(uris)) != len(uris):
        raise invalid("each resource once.")
    for spec in specs:
        validate_uri(spec.resource)
        validate_taken(spec.resource, client_id)
        if not spec.name.strip() or len(spec.name) > 120:
            raise invalid("'name' is required, at most 120 characters.")
        validate_actions(spec.actions)
        validate_claims(spec.claims)
    return specs


def validate_uri(uri: str) -> None:
    """RFC 8707 2: an absolute URI without a fragment; https, or http on this machine
    outside production, as for redirect URIs."""
    if "#" in uri or len(uri) > min(MAX_URI, MAX_URI_LENGTH):
        raise invalid(f"{uri}: no fragment, at most {MAX_URI_LENGTH} characters.")
    try:
        parts = parse(uri, "invalid_client_metadata", uri)
    except ClientMetadataError as error:
        raise invalid(str(error.description)) from None
    if parts.scheme == "http" and not allows_http(parts.hostname or ""):
        raise invalid(f"{uri}: must use https.")


def validate_taken(uri: str, client_id: str | None) -> None:
    found = query_resource(uri)
    if found is not None and found.client_id != client_id:
        raise invalid(f"{uri} is already registered by another platform.")


def validate_actions(actions: dict[str, dict[str, str]]) -> None:
    """Names like ``trips:search``, never a scope's name (the ``scope`` parameter holds
    both); words in English and French, short: they are read in one sentence."""
    if not actions or len(actions) > MAX_ACTIONS:
        raise invalid(f"between 1 and {MAX_ACTIONS} actions.")
    for name, words in actions.items():
        if not ACTION.fullmatch(name) or name in supported_scopes():
            raise invalid(f"{name}: an action is named like trips:search.")
        for language in LANGUAGES:
            text = (words.get(language) or "").strip()
            if not text or len(text) > MAX_WORDS:
                raise invalid(f"{name}: words in {language} are required, "
                              f"at most {MAX_WORDS} characters.")


def validate_claims(claims: list[str]) -> None:
    """Catalogue claims only; never special-category data, asked again every time
    (shared/SCOPES.md), and ``sub`` goes without saying."""
    for claim in claims:
        scope = scope_of(claim)
        if claim not in supported_claims() or scope is None or describe(scope).special:
            raise invalid(f"{claim}: not a claim a resource can receive.")


def save(client: Client, specs: list[ResourceSpec]) -> None:
    """Replace the platform's resources with ``specs``, in the caller's transaction."""
    kept = {spec.resource for spec in specs}
    existing = {r.uri: r for r in resources_of(client.client_id)} if client.id else {}
    for uri, row in existing.items():
        if uri not in kept:
            db.session.delete(row)
    for spec in specs:
        row = existing.get(spec.resource) or Resource(uri=spec.resource, client=client)
        row.name = spec.name.strip()
        row.actions = {a: {lang: w[lang].strip() for lang in LANGUAGES}
                       for a, w in spec.actions.items()}
        row.claims = list(dict.fromkeys(spec.claims))
        db.session.add(row)


def as_json(client: Client) -> list[dict[str, Any]]:
    return [r.as_metadata() for r in resources_of(client.client_id)]
