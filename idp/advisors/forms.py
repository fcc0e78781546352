"""Forms of the advisors' pages. Every field has a visible label; errors are tied to
their field; nothing is ticked in advance."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, RadioField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from idp.accounts.forms import EMAIL_MESSAGE, OneTimeField, strip
from idp.accounts.mobility import CheckboxesField, choices
from idp.advisors.service import ACTION_CHOICES

SEPARATORS = re.compile(r"[ .()\-]")
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
FRENCH = re.compile(r"^0[67][0-9]{8}$")  # a French mobile number: 06 or 07


def mobile_number(typed: str | None) -> str | None:
    """The number in E.164 (+33612345678), or None when it is not a mobile one."""
    number = SEPARATORS.sub("", (typed or "").strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    elif FRENCH.match(number):
        number = "+33" + number[1:]
    return number if E164.match(number) else None


class AdvisorLoginForm(FlaskForm):
    email = EmailField(
        _l("Email address"), filters=[strip],
        validators=[InputRequired(_l("Enter your email address.")), Length(max=254),
                    Email(EMAIL_MESSAGE, check_deliverability=False)],
        render_kw={"autocomplete": "username", "spellcheck": "false"})
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"})


class AdvisorCodeForm(FlaskForm):
    code = OneTimeField(
        _l("6-digit code from your authenticator app"),
        validators=[InputRequired(_l("Enter the 6-digit code from your app.")), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                   "spellcheck": "false", "autocapitalize": "none"})


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Choose a password"),
        description=_l("At least 15 characters. A few words you will remember make a good one."),
        validators=[InputRequired(_l("Choose a password.")), Length(max=1024)],
        render_kw={"autocomplete": "new-password"})


class AddAdvisorForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        InputRequired(_l("Enter the advisor’s name.")), Length(max=100)])
    email = EmailField(
        _l("Email address"), filters=[strip],
        validators=[InputRequired(_l("Enter the advisor’s email address.")), Length(max=254),
                    Email(EMAIL_MESSAGE, check_deliverability=False)],
        render_kw={"spellcheck": "false"})
    centre = StringField(_l("Centre"), description=_l("Where they work, for example "
                                                        "“Mobilité solidaire Lyon”."),
                         validators=[InputRequired(_l("Enter the advisor’s centre.")),
                                     Length(max=200)])
    role = RadioField(_l("Role"), choices=choices(
                          ("advisor", _l("Advisor: helps travellers")),
                          ("operator", _l("Operator: also manages advisors"))),
                      validators=[InputRequired(_l("Choose a role."))])


class ExistingTravellerFields(FlaskForm):
    """Fields defined before the mandate's: they come first, on the page and in the
    error summary."""

    email = EmailField(
        _l("Their email address"), filters=[strip],
        validators=[InputRequired(_l("Enter their email address.")), Length(max=254),
                    Email(EMAIL_MESSAGE, check_deliverability=False)],
        render_kw={"spellcheck": "false"})


class NewTravellerFields(FlaskForm):
    given_name = StringField(_l("First name"), validators=[
        InputRequired(_l("Enter their first name.")), Length(max=100)])
    family_name = StringField(_l("Last name (optional)"),
                              validators=[Optional(), Length(max=100)])
    email = EmailField(
        _l("Their email address"), filters=[strip],
        description=_l("We send them a link to choose their own password."),
        validators=[InputRequired(_l("Enter their email address.")), Length(max=254),
                    Email(EMAIL_MESSAGE, check_deliverability=False)],
        render_kw={"spellcheck": "false"})
    phone_number = StringField(
        _l("Their mobile number (optional)"),
        description=_l("For the code they receive by text message, like 06 12 34 56 78."),
        validators=[Optional(), Length(max=32)], render_kw={"inputmode": "tel"})

    def validate_phone_number(self, field: StringField) -> None:
        if field.data and mobile_number(field.data) is None:
            raise ValidationError(_l("Enter a mobile number like 06 12 34 56 78."))


class MandateForm(FlaskForm):
    """What the traveller allows, for how long, and how they confirm it."""

    actions = CheckboxesField(_l("What you may do for them"), choices=choices(
        *ACTION_CHOICES.items()))
    platforms = CheckboxesField(_l("Platforms they agree to"), choices=[])
    months = RadioField(_l("For how long"), choices=choices(
        ("1", _l("1 month")), ("3", _l("3 months")), ("6", _l("6 months")),
        ("12", _l("12 months"))), validators=[InputRequired(_l("Choose how long."))])
    method = RadioField(_l("How you help them"), choices=choices(
        ("assisted_in_person", _l("In person")), ("assisted_phone", _l("On the phone"))),
        validators=[InputRequired(_l("Choose in person or on the phone."))])
    confirmation = RadioField(_l("How they agree"), choices=choices(
        ("sms", _l("With a code we send to their mobile phone")),
        ("paper", _l("On paper: they sign a printed page with a code"))),
        validators=[InputRequired(_l("Choose how they agree."))])

    def validate_actions(self, field: CheckboxesField) -> None:
        if not field.data:
            raise ValidationError(_l("Tick at least one thing you may do."))

    def validate_platforms(self, field: CheckboxesField) -> None:
        if "consent" in (self.actions.data or []) and not field.data:
            raise ValidationError(_l("Tick the platforms they agree to."))


class ExistingTravellerForm(ExistingTravellerFields, MandateForm):
    """A mandate from a traveller who already has an account."""


class NewTravellerForm(NewTravellerFields, MandateForm):
    """An account made with the traveller, and their mandate."""


class MandateCodeForm(FlaskForm):
    code = OneTimeField(
        _l("The 6-digit code"),
        validators=[InputRequired(_l("Enter the 6-digit code.")), Length(max=32)],
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"})
