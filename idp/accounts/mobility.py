"""The traveller's travel details (the mob_* claims of shared/SCOPES.md): the words shown
for their coded values, and how a topic page stores its part of the claims. Verified
claims (identity, licence check, eligibility) are set by the operator only; editing a
checked value clears its flag. The pages, one per topic, are in mobility_topics."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField
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
# The claim keeps the size 1 to 5 of the carpool standard; the traveller reads words.
LUGGAGE = {"1": _l("A small bag"), "2": _l("A big bag"), "3": _l("A suitcase"),
           "4": _l("A big suitcase"), "5": _l("Several suitcases or something bulky")}
PREFERENCES = {"smoking": _l("Smoking is fine with me"),
               "animals": _l("Animals are fine with me"),
               "music": _l("I like music on the way"), "talker": _l("I like to chat on the way")}
# The claim keeps the official category codes; the traveller reads what each allows.
LICENCE = {"AM": _l("AM – moped"), "A1": _l("A1 – small motorbike"),
           "A2": _l("A2 – medium motorbike"), "A": _l("A – motorbike"),
           "B1": _l("B1 – small four-wheeled vehicle"), "B": _l("B – car"),
           "BE": _l("BE – car with a big trailer"), "C1": _l("C1 – van or small lorry"),
           "C": _l("C – lorry"), "D1": _l("D1 – minibus"), "D": _l("D – bus or coach")}
MOBILITY_NEEDS = {"wheelchair": _l("I use a wheelchair"),
                  "walking_aid": _l("I walk with an aid"),
                  "reduced_mobility": _l("I walk slowly or with difficulty")}
ENCUMBRANCE = {"pushchair": _l("Pushchair"), "luggage": _l("Heavy luggage"),
               "bicycle": _l("A bicycle")}
SENSORY = {"blind": _l("Blind"), "low_vision": _l("Low vision"), "deaf": _l("Deaf"),
           "hard_of_hearing": _l("Hard of hearing")}


def text(form: FlaskForm, name: str) -> str | None:
    """A field's answer, without the spaces around it; None when empty."""
    value = getattr(form, name).data
    return value.strip() or None if isinstance(value, str) else value


def compact(values: dict[str, Any]) -> dict[str, Any] | None:
    kept = {k: v for k, v in values.items() if v not in (None, "", [], {})}
    return kept or None


def store(user: User, **claims: Any) -> None:
    """Save one topic's claims, leaving every other claim as it was; an empty answer
    removes its claim (absent, never null: OIDC Core 5.3.2)."""
    mob = {**(user.mobility or {}), **claims}
    user.mobility = {k: v for k, v in mob.items() if v not in (None, "", [], {})}
    user.updated_at = utcnow()
    db.session.commit()


def licence(previous: dict[str, Any] | None, categories: list[str]) -> dict[str, Any] | None:
    """Changing the categories clears the operator's check (shared/SCOPES.md)."""
    previous = previous or {}
    if not categories:
        return None
    if sorted(categories) == sorted(previous.get("categories", [])):
        return {**previous, "categories": categories}
    return {"verified": False, "categories": categories}
