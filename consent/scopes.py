"""The scope catalogue (shared/SCOPES.md): for each scope its claims, a plain-language
title and purpose in French and English, a sensitivity level and a version. A change of
wording is a new version: consent records point at the version and hash they showed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from idp.accounts.mobility import VALUE_LABELS
from idp.accounts.mobility_pages import CLAIM_WORDS
from idp.accounts.models import User
from idp.oauth.claims import CLAIM_GETTERS, claims_for_scopes

# identifier < low < medium < high < special (GDPR Art. 9)
SENSITIVE = ("high", "special")


@dataclass(frozen=True)
class Scope:
    name: str
    title: LazyString | str
    purpose: LazyString | str
    sensitivity: str
    version: int = 1

    @property
    def claims(self) -> list[str]:
        return claims_for_scopes([self.name])

    @property
    def sensitive(self) -> bool:
        return self.sensitivity in SENSITIVE

    @property
    def special(self) -> bool:
        return self.sensitivity == "special"


CATALOGUE: dict[str, Scope] = {
    s.name: s
    for s in (
        # The same two ideas wherever the platform's number is told (My platforms, the
        # consent screen, the proof): that it is you; a number, not your name.
        Scope("openid", _l("That it is you"),
              _l("A number made only for this platform, not your name. With it, the "
                 "platform knows it is you next time."), "identifier", version=3),
        Scope("profile:alias", _l("Your alias and photo"),
              _l("The name and photo other travellers see. Not your first and last name."),
              "low", version=2),
        Scope("profile", _l("Your name and profile"),
              _l("Your first and last name, gender, date of birth and language."), "medium"),
        Scope("age_over_18", _l("Whether you are over 18"),
              _l("Only yes or no. Not your date of birth."), "low"),
        Scope("email", _l("Your email address"),
              _l("To write to you, for example to confirm a trip."), "medium"),
        Scope("phone", _l("Your phone number"),
              _l("To call you or send you a text, for example on the day of a trip."),
              "medium"),
        Scope("address", _l("Your postal address"),
              _l("Your full address: street, postal code, town and country."), "high"),
        Scope("home_commune", _l("Your home town"),
              _l("Only the name of your town and its official code. Not your street or "
                 "house number."), "medium", version=2),
        Scope("offline_access", _l("Use your information later"),
              _l("The platform can read what you share here later, even when you are not "
                 "on its site. This lasts until you withdraw your agreement."), "high",
              version=2),
        Scope("carpool", _l("Your carpooling habits"),
              _l("Driver or passenger, your travel preferences, the make and model of your "
                 "car. Never your number plate."), "low"),
        Scope("identity_verified", _l("Whether your identity was checked"),
              _l("Only that it was checked, how and when. Never your document."), "medium"),
        Scope("driving_licence", _l("Your driving licence"),
              _l("Whether it was checked, and which vehicles you may drive. Never its "
                 "number."), "medium", version=2),
        Scope("preferred_modes", _l("How you like to travel"),
              _l("For example on foot, by bike, bus, train or carpool."), "low"),
        Scope("transit_pass", _l("Your bus, tram or train passes"),
              _l("Which company, which pass, and until when it works. Never the card "
                 "number."), "medium", version=2),
        Scope("employer", _l("Your employer"),
              _l("Its name and company number. Some employers help their staff pay for "
                 "travel."), "medium", version=2),
        Scope("accessibility_needs", _l("Your accessibility needs"),
              _l("Help you need to travel: reduced mobility, luggage or pushchair, sight or "
                 "hearing. This is health information: we ask you every time."), "special"),
        Scope("eligibility", _l("Your right to help with travel"),
              _l("Only yes or no for each kind of help. Never the reason."), "high",
              version=2),
    )
}


# OIDC Core 5.4 and 11: the scopes every OpenID Connect library knows.
STANDARD = ("openid", "profile", "email", "address", "phone", "offline_access")
# Scopes whose value is a check made by the provider or an operator (SCOPES.md,
# "Verified claims"): a platform asks for them knowingly, never by default.
VERIFIED = ("identity_verified", "driving_licence")


def undeclared_scopes() -> list[str]:
    """What a platform that registered no ``scope`` may ask for (OIDC Registration 1.0
    has no such field): the standard scopes and the mobility scopes that are neither
    sensitive nor verified. offline_access follows the grant types, not this list.
    Consent still decides, for each traveller, what is released."""
    return [name for name, scope in CATALOGUE.items() if name != "offline_access"
            and (name in STANDARD or not (scope.sensitive or name in VERIFIED))]


def describe(scope: str) -> Scope:
    return CATALOGUE.get(scope) or Scope(scope, _l("Other information"), scope, "high")


HIDDEN = ("sub", "email_verified", "phone_number_verified", "updated_at")


def preview_claim(user: User, claim: str) -> str | None:
    """The traveller's own value of a claim, in words and in full: it is their data, on
    their own screen, as the platform would receive it (issue 12, item 5). None when
    empty, or for the identifier and the provider's bookkeeping."""
    if claim in HIDDEN:
        return None
    if claim in CLAIM_WORDS:
        return ", ".join(str(word) for word in CLAIM_WORDS[claim](user)) or None
    value = CLAIM_GETTERS[claim](user)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(_l("yes")) if value else str(_l("no"))
    if isinstance(value, str) and value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    if isinstance(value, dict):
        value = value.get("formatted") or value.get("name") or ", ".join(
            str(v) for v in value.values() if v not in (None, "", [], {}))
    elif isinstance(value, list):
        value = ", ".join(shown_item(v) for v in value)
    return str(value).replace("\n", ", ")


def shown_item(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("network") or value.get("scheme") or value)
    return str(VALUE_LABELS.get(value, value)) if isinstance(value, str) else str(value)
