"""Which claims each scope releases (OIDC Core 5.4 and shared/SCOPES.md), and the
traveller's values for them.

Claims that are not granted, or that the traveller has not filled, are absent, never
null (OIDC Core 5.3.2). Custom claims carry the ``mob_`` prefix (OIDC Core 5.1.2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from idp.accounts.models import User
from idp.oauth.models import Client
from idp.oauth.subjects import subject_for

ClaimGetter = Callable[[User], Any]

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile:alias": ("nickname", "picture"),
    "profile": ("given_name", "family_name", "gender", "birthdate", "locale", "updated_at"),
    "age_over_18": ("age_over_18",),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "home_commune": ("mob_home_commune",),
    "offline_access": (),
    "carpool": ("mob_carpool_role", "mob_carpool_preferences", "mob_vehicle"),
    "identity_verified": ("mob_identity_verified",),
    "driving_licence": ("mob_driving_licence",),
    "preferred_modes": ("mob_preferred_modes",),
    "transit_pass": ("mob_transit_passes",),
    "employer": ("mob_employer",),
    "accessibility_needs": ("mob_accessibility_needs",),
    "eligibility": ("mob_eligibility",),
}

# Claims kept out of the ID token whatever the scope: sensitive data goes through
# userinfo only, where the current consent is checked at every call.
PROTOCOL_CLAIMS = ("iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
                   "sid")


def age_over_18(user: User, today: date | None = None) -> bool | None:
    if user.birthdate is None:
        return None
    today = today or date.today()
    born = user.birthdate
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return years >= 18


def _address(user: User) -> dict[str, str] | None:
    parts = {
        "street_address": user.street_address,
        "locality": user.locality,
        "postal_code": user.postal_code,
        "country": user.country,
    }
    address = {k: v for k, v in parts.items() if v}
    if not address:
        return None
    lines = [user.street_address, " ".join(p for p in (user.postal_code, user.locality) if p),
             user.country]
    address["formatted"] = "\n".join(line for line in lines if line)
    return address


def _phone_verified(user: User) -> bool | None:
    return user.phone_number_verified if user.phone_number else None


def _mobility(name: str) -> ClaimGetter:
    def getter(user: User) -> Any:
        value = (user.mobility or {}).get(name)
        return value if value not in (None, "", [], {}) else None

    return getter


CLAIM_GETTERS: dict[str, ClaimGetter] = {
    "nickname": lambda u: u.nickname,
    "picture": lambda u: u.picture,
    "given_name": lambda u: u.given_name,
    "family_name": lambda u: u.family_name,
    "gender": lambda u: u.gender,
    "birthdate": lambda u: u.birthdate.isoformat() if u.birthdate else None,
    "locale": lambda u: u.locale,
    "updated_at": lambda u: int(u.updated_at.timestamp()),
    "age_over_18": age_over_18,
    "email": lambda u: u.email,
    "email_verified": lambda u: bool(u.email_verified),
    "phone_number": lambda u: u.phone_number,
    "phone_number_verified": _phone_verified,
    "address": _address,
}
for _claims in SCOPE_CLAIMS.values():
    for _claim in _claims:
        if _claim.startswith("mob_"):
            CLAIM_GETTERS[_claim] = _mobility(_claim)


def supported_scopes() -> list[str]:
    return list(SCOPE_CLAIMS)


def supported_claims() -> list[str]:
    names = {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
    return sorted(names | set(PROTOCOL_CLAIMS))


def scope_of(claim: str) -> str | None:
    """The catalogue scope a claim belongs to (each belongs to one), or None: a protocol
    claim such as ``acr``, or a name we do not know (OIDC Core 5.5 ignores those)."""
    return next((scope for scope, claims in SCOPE_CLAIMS.items() if claim in claims), None)


def claims_for_scopes(scopes: Iterable[str]) -> list[str]:
    names: list[str] = []
    for scope in scopes:
        for claim in SCOPE_CLAIMS.get(scope, ()):
            if claim not in names:
                names.append(claim)
    return names


def user_claims(user: User, client: Client, scopes: Iterable[str],
                allowed: Iterable[str] | None = None,
                asked: Iterable[str] = (), sub: str | None = None) -> dict[str, Any]:
    """The values of the scopes' claims and of the catalogue claims ``asked`` one by one
    (OIDC Core 5.5), limited to ``allowed`` when given. ``sub``: the subject, when the
    caller has it (else :func:`subject_for`)."""
    kept = None if allowed is None else set(allowed)
    claims: dict[str, Any] = {"sub": subject_for(user, client) if sub is None else sub}
    names = claims_for_scopes(scopes)
    names += [c for c in asked if c not in names and scope_of(c) is not None]
    for name in names:
        if name == "sub" or (kept is not None and name not in kept):
            continue
        value = CLAIM_GETTERS[name](user)
        if value is not None:
            claims[name] = value
    return claims
