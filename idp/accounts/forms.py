"""Account forms. Every field has a visible label; errors are tied to their field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional

EMAIL_MESSAGE = _l("Enter an email address like name@example.org.")


def strip(value: str | None) -> str | None:
    """Spaces around an address (a phone's keyboard adds them) are not a mistake."""
    return value.strip() if isinstance(value, str) else value


class OneTimeField(StringField):
    """A one-time code (from the app, a recovery code): after an error the field comes
    back empty, like a password. A used or wrong code is worth nothing to retype."""

    def _value(self) -> str:
        return ""


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email address"), filters=[strip],
        # The form of an address only: it tells nothing about which accounts exist.
        validators=[InputRequired(_l("Enter your email address.")), Length(max=254),
                    Email(EMAIL_MESSAGE, check_deliverability=False)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class SignupForm(FlaskForm):
    given_name = StringField(
        _l("First name"),
        validators=[InputRequired(_l("Enter your first name.")), Length(max=100)],
        render_kw={"autocomplete": "given-name"},
    )
    family_name = StringField(
        _l("Last name (optional)"),
        validators=[Optional(), Length(max=100)],
        render_kw={"autocomplete": "family-name"},
    )
    email = EmailField(
        _l("Email address"), filters=[strip],
        validators=[
            InputRequired(_l("Enter your email address.")),
            Length(max=254),
            Email(EMAIL_MESSAGE, check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    # Shown only when SMS can be sent: a code by SMS can then activate the account.
    phone_number = StringField(
        _l("Mobile number (optional)"), filters=[strip],
        description=_l("To get a code by SMS instead of an email."),
        validators=[Optional(), Length(max=32)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    password = PasswordField(
        _l("Choose a password"),
        description=_l("At least 15 characters. A few words you will remember make a good one."),
        validators=[InputRequired(_l("Choose a password.")), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )


class ConfirmSignupForm(FlaskForm):
    """The link that ends a sign-up asks for the password chosen: the address's owner
    then activates only a password they know (see ``idp.accounts.registration``)."""

    password = PasswordField(
        _l("The password you chose"),
        validators=[InputRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


GENDERS = [
    SelectChoice("", _l("Not given")),
    SelectChoice("female", _l("Female")),
    SelectChoice("male", _l("Male")),
    SelectChoice("other", _l("Other")),
]
LOCALES = [SelectChoice("", _l("Not given")), SelectChoice("fr-FR", "Français"),
           SelectChoice("en", "English")]


class ProfileForm(FlaskForm):
    given_name = StringField(_l("First name"), validators=[InputRequired(
        _l("Enter your first name.")), Length(max=100)], render_kw={"autocomplete": "given-name"})
    family_name = StringField(_l("Last name"), validators=[Optional(), Length(max=100)],
                              render_kw={"autocomplete": "family-name"})
    nickname = StringField(_l("Alias shown to other travellers"),
                           validators=[Optional(), Length(max=100)],
                           render_kw={"autocomplete": "nickname"})
    gender = SelectField(_l("Gender"), choices=GENDERS, validators=[Optional()])
    birthdate = DateField(_l("Date of birth"), validators=[Optional()],
                          render_kw={"autocomplete": "bday"})
    locale = SelectField(_l("Preferred language"), choices=LOCALES, validators=[Optional()])
    # The phone number has its own page, behind a recent login (credentials_views).
    street_address = StringField(_l("Street address"), validators=[Optional(), Length(max=200)],
                                 render_kw={"autocomplete": "street-address"})
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=20)],
                              render_kw={"autocomplete": "postal-code"})
    locality = StringField(_l("Town or city"), validators=[Optional(), Length(max=100)],
                           render_kw={"autocomplete": "address-level2"})
    country = StringField(_l("Country"), validators=[Optional(), Length(max=60)],
                          render_kw={"autocomplete": "country-name"})


class ConfirmForm(FlaskForm):
    """A form with only its CSRF token, for one-button actions such as logging out."""
