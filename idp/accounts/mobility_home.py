"""Where the traveller lives: they type the name of their town, and the postal code if
they wish; the provider finds the town in Etalab's list (idp.communes) and keeps its
official code for the home_commune claim. The code is never asked. When several towns
share the name, the page offers them as a choice: "Saint-Denis (93)", "Saint-Denis (974)"."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import Length, Optional, Regexp

from idp import communes
from idp.accounts.mobility import store
from idp.accounts.models import User

NOT_FOUND = _l("We did not find this town. Check how it is written, or add its postal code.")
NOT_FOUND_WITH_CODE = _l("We did not find a town with this name and this postal code. "
                         "Check both.")
NOT_FOUND_CODE = _l("We did not find a town with this postal code.")
CHOOSE = _l("Several towns have this name. Choose yours in the list.")


class HomeForm(FlaskForm):
    commune_name = StringField(_l("Name of your town"), validators=[Optional(), Length(max=100)],
                               render_kw={"autocomplete": "address-level2"})
    postal_code = StringField(
        _l("Postal code (you can leave it empty)"),
        description=_l("It helps when several towns have the same name."),
        validators=[Optional(), Regexp(r"^\s*\d{2}\s?\d{3}\s*$",
                                       message=_l("Enter the 5 digits of the postal code."))],
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric"})
    commune = RadioField(_l("Which town is yours?"), choices=[], validate_choice=False)

    found: communes.Commune | None = None

    def offer(self, matches: tuple[communes.Commune, ...]) -> None:
        """Show the towns to choose from, only when there is a choice to make."""
        self.commune.choices = [(c.insee_code, c.label) for c in matches] if len(
            matches) > 1 else []

    def validate(self, extra_validators: Any = None) -> bool:
        return super().validate(extra_validators) and self.find_commune()

    def find_commune(self) -> bool:
        name = (self.commune_name.data or "").strip()
        postal_code = (self.postal_code.data or "").strip()
        self.found = None
        if not name and not postal_code:
            return True  # Both emptied: the traveller removes their town.
        matches = communes.find(name, postal_code)
        self.offer(matches)
        chosen = [c for c in matches if len(matches) == 1 or c.insee_code == self.commune.data]
        if chosen:
            self.found = chosen[0]
            return True
        self.add_problem(matches, name, postal_code)
        return False

    def add_problem(self, matches: tuple[communes.Commune, ...], name: str,
                    postal_code: str) -> None:
        if matches:
            self.commune.errors = [CHOOSE]
        elif not name:
            self.postal_code.errors = [NOT_FOUND_CODE]
        else:
            self.commune_name.errors = [NOT_FOUND_WITH_CODE if postal_code else NOT_FOUND]


def load_home(form: HomeForm, user: User) -> None:
    commune = (user.mobility or {}).get("mob_home_commune") or {}
    form.commune_name.data = commune.get("name")
    form.commune.data = commune.get("insee_code")
    known = communes.by_code(commune.get("insee_code") or "")
    if known is not None:
        form.offer(communes.find(known.name))


def save_home(form: HomeForm, user: User) -> None:
    found = form.found
    store(user, mob_home_commune={"name": found.name, "insee_code": found.insee_code}
          if found else None)
