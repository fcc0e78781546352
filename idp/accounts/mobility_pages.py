"""The travel-details pages: the overview lists each topic with what is filled in, in
words, and a link to change it; each topic has its own short page. Health needs have
their own page, apart from the rest (GDPR Art. 9)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import LazyString, format_date
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from idp import communes
from idp.accounts import mobility_home as home
from idp.accounts import mobility_topics as t
from idp.accounts.mobility import (
    ENCUMBRANCE,
    LICENCE,
    LUGGAGE,
    MOBILITY_NEEDS,
    PREFERENCES,
    SENSORY,
    VALUE_LABELS,
)
from idp.accounts.models import User

Words = list[Any]


@dataclass(frozen=True)
class Topic:
    slug: str
    title: LazyString
    form: type[FlaskForm]
    load: Callable[[Any, User], None]
    save: Callable[[Any, User], None]
    summary: Callable[[User], Words]
    note: LazyString | None = None


def claim(user: User, name: str) -> Any:
    return (user.mobility or {}).get(name) or {}


def home_words(user: User) -> Words:
    commune = claim(user, "mob_home_commune")
    known = communes.by_code(commune.get("insee_code", ""))
    return [known.label if known else commune.get("name")] if commune else []


def preferences_words(user: User) -> Words:
    prefs = claim(user, "mob_carpool_preferences")
    luggage = LUGGAGE.get(str(prefs.get("luggage_size")))
    return [*(PREFERENCES[k] for k in PREFERENCES if prefs.get(k)), *([luggage] if luggage
                                                                    else [])]


def carpool_words(user: User) -> Words:
    role = VALUE_LABELS.get(str((user.mobility or {}).get("mob_carpool_role")))
    return [*([role] if role else []), *preferences_words(user)]


def licence_words(user: User) -> Words:
    permit = claim(user, "mob_driving_licence")
    words = [LICENCE.get(c, c) for c in permit.get("categories", [])]
    return words + ([_l("Driving licence checked")] if permit.get("verified") else [])


def car_words(user: User) -> Words:
    vehicle = claim(user, "mob_vehicle")
    car = " ".join(v for v in (vehicle.get("brand"), vehicle.get("model")) if v)
    return [*([car] if car else []), *licence_words(user)]


def pass_words(user: User) -> Words:
    passes = (user.mobility or {}).get("mob_transit_passes") or [{}]
    words: Words = [v for v in (passes[0].get("network"), passes[0].get("product")) if v]
    if passes[0].get("valid_until"):
        until = format_date(date.fromisoformat(passes[0]["valid_until"]), "long")
        words.append(_l("Works until %(day)s", day=until))
    return words


def work_words(user: User) -> Words:
    employer = claim(user, "mob_employer")
    number = employer.get("siret")
    return [w for w in (employer.get("name"),
                        _l("Company number: %(number)s", number=number) if number else None)
            if w]


def health_words(user: User) -> Words:
    needs = claim(user, "mob_accessibility_needs")
    return [*labels(MOBILITY_NEEDS, needs.get("mobility", [])),
            *labels(ENCUMBRANCE, needs.get("encumbrance", [])),
            *labels(SENSORY, needs.get("sensory", []))]


def labels(vocabulary: dict[str, Any], values: list[str]) -> Words:
    return [vocabulary.get(v, v) for v in values]


TOPICS: dict[str, Topic] = {topic.slug: topic for topic in (
    Topic("home", _l("Where you live"), home.HomeForm, home.load_home, home.save_home,
          home_words, _l("Type the name of your town. We find it in the list of French "
                         "towns.")),
    Topic("travel", _l("How you like to travel"), t.ModesForm, t.load_modes, t.save_modes,
          lambda u: labels(VALUE_LABELS, (u.mobility or {}).get("mob_preferred_modes", []))),
    Topic("carpool", _l("Carpooling"), t.CarpoolForm, t.load_carpool, t.save_carpool,
          carpool_words),
    Topic("car", _l("Car and driving licence"), t.CarForm, t.load_car, t.save_car, car_words,
          _l("If you change your licence, we will need to check it again.")),
    Topic("pass", _l("Transit pass"), t.PassForm, t.load_pass, t.save_pass, pass_words,
          _l("A pass for the bus, the tram or the train.")),
    Topic("work", _l("Work"), t.WorkForm, t.load_work, t.save_work, work_words,
          _l("Some employers help their staff to pay for travel.")),
    Topic("photo", _l("Your photo"), t.PhotoForm, t.load_photo, t.save_photo,
          lambda u: [u.picture] if u.picture else [],
          _l("Other travellers see it, with your alias.")),
    Topic("health", _l("Health and help you need"), t.HealthForm, t.load_health,
          t.save_health, health_words,
          _l("This is about your health, so it is private. Only the platforms you allow can "
             "see it. We ask you each time.")),
)}


# The claims whose values are codes or flags, in the words of their page: the consent
# screen shows these to the traveller, never "3" for a suitcase or "B" for a car.
CLAIM_WORDS: dict[str, Callable[[User], Words]] = {
    "mob_home_commune": home_words, "mob_carpool_preferences": preferences_words,
    "mob_driving_licence": licence_words, "mob_transit_passes": pass_words,
    "mob_employer": work_words, "mob_accessibility_needs": health_words,
}
