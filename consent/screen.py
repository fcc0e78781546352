"""What the consent screen shows: for each scope asked for, who wants it, why, the
traveller's own values, and whether it is required. Also the digest of each text shown,
which the consent record keeps (shared/SCOPES.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from consent.scopes import Scope, describe, preview_claim
from idp.accounts.models import User
from idp.oauth.claims import CLAIM_GETTERS, claims_for_scopes
from idp.oauth.models import Client

# Each of these claims can be unticked on its own (shared/SCOPES.md, scope "profile").
SPLIT_SCOPES = ("profile",)


@dataclass
class Line:
    scope: Scope
    required: bool
    reason: str | None
    claims: list[tuple[str, str | None]] = field(default_factory=list)  # (claim, preview)
    # Claims the platform marked essential (OIDC Core 5.5.1): a mark, never a tick.
    essential: frozenset[str] = frozenset()
    # Asked one by one with the claims parameter, not as a scope: only these claims.
    one_by_one: bool = False
    # (claim, the traveller's value) for "what exactly is shared", unmasked: their own data.
    values: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def is_essential(self) -> bool:
        return bool(self.essential & set(self.scope.claims))

    @property
    def why(self) -> str:
        """The reason shown first: the platform's own words, else the catalogue's."""
        return str(self.reason or self.scope.purpose)

    @property
    def text(self) -> str:
        """The exact words shown for this purpose; their SHA-256 goes in the record."""
        return " ".join(str(p) for p in (self.scope.title, self.scope.purpose, self.reason) if p)


def platform_reason(client: Client, scope: str) -> str | None:
    purpose = (client.scope_policy or {}).get(scope, {}).get("purpose") or {}
    language = str(get_locale())
    return purpose.get(language) or next(iter(purpose.values()), None)


def is_required(client: Client, scope: str) -> bool:
    # A sensitive scope can never be required (shared/SCOPES.md), whatever was registered.
    policy = (client.scope_policy or {}).get(scope, {})
    return bool(policy.get("required")) and not describe(scope).sensitive


def build_lines(user: User, client: Client, scopes: list[str],
                essential: frozenset[str] = frozenset()) -> list[Line]:
    lines = []
    for name in scopes:
        if name == "openid":
            continue
        line = Line(describe(name), is_required(client, name), platform_reason(client, name),
                    essential=essential, values=own_values(user, name))
        line.claims = [(c, preview_claim(user, c)) for c in boxed_claims(name)]
        lines.append(line)
    return lines


def boxed_claims(scope: str) -> list[str]:
    """The claims of a scope asked as a whole that get a box of their own; the others
    (``updated_at``, or all of an unsplit scope) come with the scope."""
    if scope not in SPLIT_SCOPES:
        return []
    return [c for c in claims_for_scopes([scope]) if c != "updated_at"]


def build_claim_lines(user: User, client: Client, by_scope: dict[str, list[str]],
                      essential: frozenset[str]) -> list[Line]:
    """Claims asked one by one (OIDC Core 5.5): a line per scope, with its purpose and
    the platform's reason, and a box for each claim asked. Never required: only a scope
    registered as required can be, and "essential" is the platform's wish, not a need
    checked at registration."""
    lines = []
    for scope, claims in by_scope.items():
        boxed = [(c, preview_one(user, c)) for c in claims]
        lines.append(Line(describe(scope), False, platform_reason(client, scope), boxed,
                          essential, one_by_one=True, values=boxed))
    return lines


def own_values(user: User, scope: str) -> list[tuple[str, str | None]]:
    """Each claim a scope asked as a whole would share, with the traveller's value
    (None: not filled in); the identifier and the provider's own bookkeeping are left out."""
    return [(c, preview_one(user, c)) for c in claims_for_scopes([scope])
            if c not in ("sub", "updated_at")]


def preview_one(user: User, claim: str) -> str | None:
    """A claim's value as shown next to its own box; flags (``email_verified``) too."""
    value = CLAIM_GETTERS[claim](user)
    if isinstance(value, bool):
        return str(_l("yes")) if value else str(_l("no"))
    return preview_claim(user, claim)


def shown_record(lines: list[Line], asked: dict[str, list[str]]) -> dict[str, Any]:
    """What goes into the pending interaction, to check the answer and record it.
    ``asked``: every claim asked one by one, shown now or answered before."""
    return {
        "language": str(get_locale()),
        "offered": [line.scope.name for line in lines],
        "required": [line.scope.name for line in lines if line.required],
        "claims": {line.scope.name: [c for c, _ in line.claims] for line in lines
                   if line.claims},
        "one_by_one": [line.scope.name for line in lines if line.one_by_one],
        "asked": asked,
        "purposes": [purpose_of(line) for line in lines],
    }


def purpose_of(line: Line) -> dict[str, Any]:
    """A purpose as the consent record keeps it; one asked claim by claim names them."""
    entry: dict[str, Any] = {"id": line.scope.name, "version": line.scope.version,
                             "sha256": hashlib.sha256(line.text.encode()).hexdigest()}
    if line.one_by_one:
        entry["claims"] = [c for c, _ in line.claims]
        entry["essential"] = sorted(line.essential & set(entry["claims"]))
    return entry


CLAIM_LABELS = {
    "nickname": _l("Alias"),
    "picture": _l("Photo"),
    "given_name": _l("First name"),
    "family_name": _l("Last name"),
    "gender": _l("Gender"),
    "birthdate": _l("Date of birth"),
    "locale": _l("Preferred language"),
    "updated_at": _l("Date of your last profile change"),
    "age_over_18": _l("Over 18"),
    "email": _l("Email address"),
    "email_verified": _l("Email address checked"),
    "phone_number": _l("Phone number"),
    "phone_number_verified": _l("Phone number checked"),
    "address": _l("Postal address"),
    "mob_home_commune": _l("Home town"),
    "mob_carpool_role": _l("Driver or passenger"),
    "mob_carpool_preferences": _l("Travel preferences"),
    "mob_vehicle": _l("Car make and model"),
    "mob_identity_verified": _l("Identity checked"),
    "mob_driving_licence": _l("Driving licence"),
    "mob_preferred_modes": _l("How you like to travel"),
    "mob_transit_passes": _l("Bus, tram or train passes"),
    "mob_employer": _l("Employer"),
    "mob_accessibility_needs": _l("Accessibility needs"),
    "mob_eligibility": _l("Help with travel"),
}
