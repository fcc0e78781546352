"""The traveller's mobility details (the mob_* claims of shared/SCOPES.md): the form on
their account page and how its answers become claims. Verified claims (identity, licence
check, eligibility) are set by the operator only; editing a checked value clears its flag."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    URLField,
)
from wtforms.validators import URL, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from idp.accounts.models import User
from idp.extensions import db, utcnow


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes: keyboard- and screen-reader-friendly without JS."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def choices(*pairs: tuple[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


NOT_GIVEN = ("", _l("Not given"))
CARPOOL_ROLES = {"driver": _l("Driver"), "passenger": _l("Passenger"),
                 "both": _l("Driver or passenger")}
# The words shown for coded values, wherever the traveller sees them (form, consent).
VALUE_LABELS: dict[str, Any] = {**CARPOOL_ROLES, **{
    "walk": _l("On foot"), "bicycle": _l("Bicycle"), "bus": _l("Bus"), "train": _l("Train"),
    "carpool": _l("Carpool"), "car_sharing": _l("Car sharing"), "taxi": _l("Taxi"),
    "on_demand": _l("On-demand transport")}}
MODES = choices(*((k, VALUE_LABELS[k]) for k in ("walk", "bicycle", "bus", "train", "carpool",
                                                 "car_sharing", "taxi", "on_demand")))
LICENCE = choices(*((c, c) for c in ("AM", "A1", "A2", "A", "B1", "B", "BE", "C1", "C", "D1",
                                     "D")))
MOBILITY_NEEDS = choices(("wheelchair", _l("I use a wheelchair")),
                         ("walking_aid", _l("I walk with an aid")),
                         ("reduced_mobility", _l("I walk slowly or with difficulty")))
ENCUMBRANCE = choices(("pushchair", _l("Pushchair")), ("luggage", _l("Heavy luggage")),
                      ("bicycle", _l("A bicycle")))
SENSORY = choices(("blind", _l("Blind")), ("low_vision", _l("Low vision")),
                  ("deaf", _l("Deaf")), ("hard_of_hearing", _l("Hard of hearing")))


class MobilityForm(FlaskForm):
    picture = URLField(_l("Link to your photo (optional)"),
                       validators=[Optional(), URL(message=_l("Enter a web address.")),
                                   Length(max=500)])
    commune_name = StringField(_l("Home town"), validators=[Optional(), Length(max=100)],
                               render_kw={"autocomplete": "address-level2"})
    commune_code = StringField(
        _l("INSEE code of your town"),
        description=_l("Five characters, for example 16015 for Angoulême."),
        validators=[Optional(), Regexp(r"^(\d{5}|2[AB]\d{3})$",
                                       message=_l("Enter five characters, like 16015."))])
    carpool_role = SelectField(_l("In a carpool, you are"), validators=[Optional()],
                               choices=choices(NOT_GIVEN, *CARPOOL_ROLES.items()))
    smoking = BooleanField(_l("Smoking is fine with me"))
    animals = BooleanField(_l("Animals are fine with me"))
    music = BooleanField(_l("I like music on the way"))
    talker = BooleanField(_l("I like to chat on the way"))
    luggage_size = SelectField(_l("Luggage you usually carry"), validators=[Optional()],
                               choices=choices(NOT_GIVEN, *((str(n), str(n)) for n in range(1, 6))))
    vehicle_brand = StringField(_l("Car make"), validators=[Optional(), Length(max=60)])
    vehicle_model = StringField(_l("Car model"), validators=[Optional(), Length(max=60)])
    licence_categories = CheckboxesField(_l("Driving licence categories"), choices=LICENCE)
    preferred_modes = CheckboxesField(_l("How you like to travel"), choices=MODES)
    pass_network = StringField(_l("Transit network"), validators=[Optional(), Length(max=100)])
    pass_product = StringField(_l("Kind of pass"), validators=[Optional(), Length(max=100)])
    pass_valid_until = DateField(_l("Pass valid until"), validators=[Optional()])
    employer_name = StringField(_l("Name of your employer"),
                                validators=[Optional(), Length(max=120)])
    employer_siret = StringField(
        _l("Employer's SIRET number"),
        validators=[Optional(), Regexp(r"^\d{14}$", message=_l("Enter the 14 digits."))])
    needs_mobility = CheckboxesField(_l("Moving around"), choices=MOBILITY_NEEDS)
    needs_encumbrance = CheckboxesField(_l("What you carry"), choices=ENCUMBRANCE)
    needs_sensory = CheckboxesField(_l("Sight and hearing"), choices=SENSORY)


def load(form: MobilityForm, user: User) -> None:
    """Fill the form from the traveller's claims (on GET)."""
    mob = user.mobility or {}
    commune = mob.get("mob_home_commune") or {}
    prefs = mob.get("mob_carpool_preferences") or {}
    vehicle = mob.get("mob_vehicle") or {}
    passes = mob.get("mob_transit_passes") or [{}]
    employer = mob.get("mob_employer") or {}
    needs = mob.get("mob_accessibility_needs") or {}
    values = {
        "picture": user.picture, "commune_name": commune.get("name"),
        "commune_code": commune.get("insee_code"), "carpool_role": mob.get("mob_carpool_role"),
        "smoking": prefs.get("smoking"), "animals": prefs.get("animals"),
        "music": prefs.get("music"), "talker": prefs.get("talker"),
        "luggage_size": str(prefs.get("luggage_size") or ""),
        "vehicle_brand": vehicle.get("brand"), "vehicle_model": vehicle.get("model"),
        "licence_categories": (mob.get("mob_driving_licence") or {}).get("categories", []),
        "preferred_modes": mob.get("mob_preferred_modes") or [],
        "pass_network": passes[0].get("network"), "pass_product": passes[0].get("product"),
        "employer_name": employer.get("name"), "employer_siret": employer.get("siret"),
        "needs_mobility": needs.get("mobility", []),
        "needs_encumbrance": needs.get("encumbrance", []),
        "needs_sensory": needs.get("sensory", []),
    }
    for name, value in values.items():
        getattr(form, name).data = value


def text(form: MobilityForm, name: str) -> str | None:
    value = getattr(form, name).data
    return value.strip() or None if isinstance(value, str) else value


def save(form: MobilityForm, user: User) -> None:
    mob = dict(user.mobility or {})
    user.picture = text(form, "picture")
    mob["mob_home_commune"] = compact({"name": text(form, "commune_name"),
                                       "insee_code": text(form, "commune_code")})
    mob["mob_carpool_role"] = text(form, "carpool_role")
    luggage = text(form, "luggage_size")
    mob["mob_carpool_preferences"] = compact({
        "smoking": form.smoking.data, "animals": form.animals.data, "music": form.music.data,
        "talker": form.talker.data, "luggage_size": int(luggage) if luggage else None})
    mob["mob_vehicle"] = compact({"brand": text(form, "vehicle_brand"),
                                  "model": text(form, "vehicle_model")})
    mob["mob_driving_licence"] = licence(mob.get("mob_driving_licence"),
                                         list(form.licence_categories.data or []))
    mob["mob_preferred_modes"] = list(form.preferred_modes.data or [])
    valid = form.pass_valid_until.data
    transit = compact({"network": text(form, "pass_network"),
                       "product": text(form, "pass_product"),
                       "valid_until": valid.isoformat() if valid else None})
    mob["mob_transit_passes"] = [transit] if transit else []
    mob["mob_employer"] = compact({"name": text(form, "employer_name"),
                                   "siret": text(form, "employer_siret")})
    mob["mob_accessibility_needs"] = compact({
        "mobility": list(form.needs_mobility.data or []),
        "encumbrance": list(form.needs_encumbrance.data or []),
        "sensory": list(form.needs_sensory.data or [])})
    user.mobility = {k: v for k, v in mob.items() if v not in (None, "", [], {})}
    user.updated_at = utcnow()
    db.session.commit()


def compact(values: dict[str, Any]) -> dict[str, Any] | None:
    kept = {k: v for k, v in values.items() if v not in (None, "", [], {})}
    return kept or None


def licence(previous: dict[str, Any] | None, categories: list[str]) -> dict[str, Any] | None:
    """Changing the categories clears the operator's check (shared/SCOPES.md)."""
    previous = previous or {}
    if not categories:
        return None
    if sorted(categories) == sorted(previous.get("categories", [])):
        return {**previous, "categories": categories}
    return {"verified": False, "categories": categories}
