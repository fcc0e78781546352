"""Claims a platform asks one by one with the ``claims`` parameter (OIDC Core 5.5), as the
consent step sees them: each one that belongs to a catalogue scope the platform may ask
for is put to the traveller as if that scope had been asked, for that claim alone.

What is never asked this way (shared/SCOPES.md; never a back door around the catalogue):
- a claim we do not know, or a protocol claim such as ``acr``: ignored (OIDC Core 5.5);
- a claim of a scope the platform did not register;
- a claim of a sensitive or verified scope the platform did not declare with a purpose.

"Essential" (5.5.1) is only a mark on the screen: the traveller may still refuse, and
nothing is ticked in advance for it (GDPR Recital 32)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consent.scopes import describe
from idp.oauth.claims import scope_of
from idp.oauth.claims_request import MEMBERS
from idp.oauth.models import Client

# Scopes whose claims only the provider or an operator sets (shared/SCOPES.md, "Verified
# claims"): like sensitive ones, asked one by one only after a declared purpose.
VERIFIED_SCOPES = ("identity_verified", "driving_licence")


@dataclass(frozen=True)
class AskedClaims:
    # Scope -> the claims asked of it, for scopes not asked as a whole in ``scope``.
    by_scope: dict[str, list[str]] = field(default_factory=dict)
    # Every catalogue claim asked as essential, by scope or one by one.
    essential: frozenset[str] = frozenset()


def asked_claims(client: Client, claims_request: Mapping[str, Any] | None,
                 scopes: Iterable[str]) -> AskedClaims:
    """What the claims request asks beyond ``scopes``, in the order the platform named it."""
    whole = set(scopes)
    by_scope: dict[str, list[str]] = {}
    essential: set[str] = set()
    for name, spec in named_claims(claims_request):
        scope = scope_of(name)
        if scope is None or scope == "openid" or not check_askable(client, scope):
            continue
        if isinstance(spec, dict) and spec.get("essential") is True:
            essential.add(name)
        if scope not in whole and name not in by_scope.get(scope, []):
            by_scope.setdefault(scope, []).append(name)
    return AskedClaims(by_scope, frozenset(essential))


def named_claims(claims_request: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """(claim, its request) for each claim named in the ``userinfo`` or ``id_token``
    member; a claim named in both comes twice."""
    return [(name, spec) for member in MEMBERS
            for name, spec in ((claims_request or {}).get(member) or {}).items()]


def check_askable(client: Client, scope: str) -> bool:
    """The platform registered this scope; a sensitive or verified one also needs the
    purpose it declared for it, shown on the screen."""
    if not client.get_allowed_scope(scope):
        return False
    if describe(scope).sensitive or scope in VERIFIED_SCOPES:
        purpose = ((client.scope_policy or {}).get(scope) or {}).get("purpose")
        return bool(purpose)
    return True
