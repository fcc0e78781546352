"""The travel-details topics, one short page each (issue 12, item 7): a form, how it is
filled from the claims (load) and how its answers become claims (save). load and save are
plain functions of (form, user), the one way to read and write a topic, whoever fills the
form: the traveller, or an advisor helping them. Call form.validate() before save."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, URLField
from wtforms.validators import URL, Length, Optional, Regexp

from idp.accounts.mobility import (
    CARPOOL_ROLES,
    ENCUMBRANCE,
    LICENCE,
    LUGGAGE,
    MOBILITY_NEEDS,
    MODES,
    NOT_GIVEN,
    PREFERENCES,
    SENSORY,
    CheckboxesField,
    choices,
    compact,
    licence,
    store,
    text,
)
from idp.accounts.models import User


def claim(user: User, name: str) -> Any:
    return (user.mobility or {}).get(name)


class ModesForm(FlaskForm):
    preferred_modes = CheckboxesField(_l("How you like to travel"), choices=MODES)


def load_modes(form: ModesForm, user: User) -> None:
    form.preferred_modes.data = claim(user, "mob_preferred_modes") or []


def save_modes(form: ModesForm, user: User) -> None:
    store(user, mob_preferred_modes=list(form.preferred_modes.data or []))


class CarpoolForm(FlaskForm):
    carpool_role = SelectField(_l("In a carpool, you are"), validators=[Optional()],
                               choices=choices(NOT_GIVEN, *CARPOOL_ROLES.items()))
    preferences = CheckboxesField(_l("On the way"), choices=choices(*PREFERENCES.items()))
    luggage_size = SelectField(_l("Luggage you usually take"), validators=[Optional()],
                               choices=choices(NOT_GIVEN, *LUGGAGE.items()))


def load_carpool(form: CarpoolForm, user: User) -> None:
    prefs = claim(user, "mob_carpool_preferences") or {}
    form.carpool_role.data = claim(user, "mob_carpool_role")
    form.preferences.data = [name for name in PREFERENCES if prefs.get(name)]
    form.luggage_size.data = str(prefs.get("luggage_size") or "")


def save_carpool(form: CarpoolForm, user: User) -> None:
    chosen = form.preferences.data or []
    luggage = text(form, "luggage_size")
    store(user, mob_carpool_role=text(form, "carpool_role"),
          mob_carpool_preferences=compact({
              **{name: name in chosen for name in PREFERENCES},
              "luggage_size": int(luggage) if luggage else None}))


class CarForm(FlaskForm):
    vehicle_brand = StringField(_l("Make of your car"), description=_l("For example Renault."),
                                validators=[Optional(), Length(max=60)])
    vehicle_model = StringField(_l("Model of your car"), description=_l("For example Clio."),
                                validators=[Optional(), Length(max=60)])
    licence_categories = CheckboxesField(_l("What your driving licence lets you drive"),
                                         choices=choices(*LICENCE.items()))


def load_car(form: CarForm, user: User) -> None:
    vehicle = claim(user, "mob_vehicle") or {}
    form.vehicle_brand.data = vehicle.get("brand")
    form.vehicle_model.data = vehicle.get("model")
    form.licence_categories.data = (claim(user, "mob_driving_licence") or {}).get(
        "categories", [])


def save_car(form: CarForm, user: User) -> None:
    store(user, mob_vehicle=compact({"brand": text(form, "vehicle_brand"),
                                     "model": text(form, "vehicle_model")}),
          mob_driving_licence=licence(claim(user, "mob_driving_licence"),
                                      list(form.licence_categories.data or [])))


class PassForm(FlaskForm):
    pass_network = StringField(_l("Bus, tram or train company"),
                               description=_l("For example TER or the bus of your town."),
                               validators=[Optional(), Length(max=100)])
    pass_product = StringField(_l("Name of your pass"),
                               description=_l("For example monthly pass."),
                               validators=[Optional(), Length(max=100)])
    pass_valid_until = DateField(_l("Last day your pass works"), validators=[Optional()])


def load_pass(form: PassForm, user: User) -> None:
    passes = claim(user, "mob_transit_passes") or [{}]
    form.pass_network.data = passes[0].get("network")
    form.pass_product.data = passes[0].get("product")
    until = passes[0].get("valid_until")
    form.pass_valid_until.data = date.fromisoformat(until) if until else None


def save_pass(form: PassForm, user: User) -> None:
    valid = form.pass_valid_until.data
    transit = compact({"network": text(form, "pass_network"),
                       "product": text(form, "pass_product"),
                       "valid_until": valid.isoformat() if valid else None})
    store(user, mob_transit_passes=[transit] if transit else [])


class WorkForm(FlaskForm):
    employer_name = StringField(_l("Name of your employer"),
                                validators=[Optional(), Length(max=120)])
    # The claim keeps the company's SIRET (shared/SCOPES.md); the page explains it in words.
    employer_siret = StringField(
        _l("Company number (you can leave it empty)"),
        description=_l("It has 14 digits. You find it on your pay slip."),
        filters=[lambda v: v.replace(" ", "") if isinstance(v, str) else v],
        validators=[Optional(), Regexp(r"^\d{14}$",
                                       message=_l("Enter the 14 digits of the number."))])


def load_work(form: WorkForm, user: User) -> None:
    employer = claim(user, "mob_employer") or {}
    form.employer_name.data = employer.get("name")
    form.employer_siret.data = employer.get("siret")


def save_work(form: WorkForm, user: User) -> None:
    store(user, mob_employer=compact({"name": text(form, "employer_name"),
                                      "siret": text(form, "employer_siret")}))


class PhotoForm(FlaskForm):
    picture = URLField(
        _l("Web address of your photo"),
        description=_l("If your photo is on a website, copy its address here. "
                       "It starts with https."),
        validators=[Optional(), URL(message=_l("Enter a web address that starts with https.")),
                    Length(max=500)])


def load_photo(form: PhotoForm, user: User) -> None:
    form.picture.data = user.picture


def save_photo(form: PhotoForm, user: User) -> None:
    user.picture = text(form, "picture")
    store(user)


class HealthForm(FlaskForm):
    needs_mobility = CheckboxesField(_l("Moving around"), choices=choices(*MOBILITY_NEEDS.items()))
    needs_encumbrance = CheckboxesField(_l("What you carry"),
                                        choices=choices(*ENCUMBRANCE.items()))
    needs_sensory = CheckboxesField(_l("Sight and hearing"), choices=choices(*SENSORY.items()))


def load_health(form: HealthForm, user: User) -> None:
    needs = claim(user, "mob_accessibility_needs") or {}
    form.needs_mobility.data = needs.get("mobility", [])
    form.needs_encumbrance.data = needs.get("encumbrance", [])
    form.needs_sensory.data = needs.get("sensory", [])


def save_health(form: HealthForm, user: User) -> None:
    store(user, mob_accessibility_needs=compact({
        "mobility": list(form.needs_mobility.data or []),
        "encumbrance": list(form.needs_encumbrance.data or []),
        "sensory": list(form.needs_sensory.data or [])}))
