"""Which claims each scope releases (OIDC Core 5.4), and the traveller's values for them.

Claims that are not granted, or that the traveller has not filled, are absent, never
null (OIDC Core 5.3.2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from idp.accounts.models import User
from idp.oauth.models import Client

ClaimGetter = Callable[[User], Any]

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": (
        "name",
        "given_name",
        "family_name",
        "nickname",
        "gender",
        "birthdate",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "offline_access": (),
}


def _name(user: User) -> str | None:
    names = " ".join(n for n in (user.given_name, user.family_name) if n)
    return names or None


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


CLAIM_GETTERS: dict[str, ClaimGetter] = {
    "name": _name,
    "given_name": lambda u: u.given_name,
    "family_name": lambda u: u.family_name,
    "nickname": lambda u: u.nickname,
    "gender": lambda u: u.gender,
    "birthdate": lambda u: u.birthdate.isoformat() if u.birthdate else None,
    "locale": lambda u: u.locale,
    "updated_at": lambda u: int(u.updated_at.timestamp()),
    "email": lambda u: u.email,
    "email_verified": lambda u: bool(u.email_verified),
    "phone_number": lambda u: u.phone_number,
    "phone_number_verified": _phone_verified,
    "address": _address,
}


def register_scope(scope: str, claims: dict[str, ClaimGetter]) -> None:
    """Let another package (the consent catalogue) add a scope and how to read its claims."""
    SCOPE_CLAIMS[scope] = tuple(claims)
    CLAIM_GETTERS.update(claims)


def supported_scopes() -> list[str]:
    return list(SCOPE_CLAIMS)


def supported_claims() -> list[str]:
    names = {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
    return sorted(names | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                           "at_hash", "sid"})


def subject_for(user: User, client: Client) -> str:
    """The `sub` a platform sees. Public for now; pairwise subjects come with federation."""
    return user.subject


def claims_for_scopes(scopes: Iterable[str]) -> list[str]:
    names: list[str] = []
    for scope in scopes:
        for claim in SCOPE_CLAIMS.get(scope, ()):
            if claim not in names:
                names.append(claim)
    return names


def user_claims(user: User, client: Client, scopes: Iterable[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": subject_for(user, client)}
    for name in claims_for_scopes(scopes):
        if name == "sub":
            continue
        value = CLAIM_GETTERS[name](user)
        if value is not None:
            claims[name] = value
    return claims
