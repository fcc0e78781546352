"""The scope catalogue: what each scope means, in plain words, for the consent screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from idp.accounts.models import User
from idp.oauth.claims import CLAIM_GETTERS, claims_for_scopes


@dataclass(frozen=True)
class Scope:
    name: str
    title: LazyString | str
    purpose: LazyString | str
    sensitivity: str  # identifier, low, medium, high
    version: int = 1


CATALOGUE: dict[str, Scope] = {
    s.name: s
    for s in (
        Scope("openid", _l("Know that it is you"),
              _l("A number that lets the platform recognise you next time. "
                 "It is not your name."), "identifier"),
        Scope("profile", _l("Your name and profile"),
              _l("Your first and last name, alias, gender, date of birth and language."),
              "medium"),
        Scope("email", _l("Your email address"),
              _l("To write to you, for example to confirm a trip."), "medium"),
        Scope("phone", _l("Your phone number"),
              _l("To call you or send you a text, for example on the day of a trip."),
              "medium"),
        Scope("address", _l("Your postal address"),
              _l("Your full address: street, postal code, town and country."), "high"),
        Scope("offline_access", _l("Stay connected when you are away"),
              _l("The platform can keep using what you share here even when you are not "
                 "logged in, until you withdraw it."), "high"),
    )
}


def describe(scope: str) -> Scope:
    return CATALOGUE.get(scope) or Scope(scope, _l("Other information"), scope, "high")


def preview(user: User, scope: str) -> list[str]:
    """The traveller's own values this scope would share, partly masked."""
    values = []
    for claim in claims_for_scopes([scope]):
        if claim in ("sub", "email_verified", "phone_number_verified", "updated_at"):
            continue
        value = CLAIM_GETTERS[claim](user)
        if isinstance(value, dict):
            value = value.get("formatted")
        if value:
            values.append(mask(claim, str(value)))
    return values


MASKS: dict[str, Callable[[str], str]] = {
    "email": lambda v: v[0] + "…@" + v.split("@", 1)[1] if "@" in v else v,
    "phone_number": lambda v: v[:4] + "…" + v[-2:] if len(v) > 6 else v,
}


def mask(claim: str, value: str) -> str:
    return MASKS.get(claim, lambda v: v)(value).replace("\n", ", ")
