"""Forms for the account's credentials: the email address, the password, the phone
number, and the way back in when the password is forgotten."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, Field, PasswordField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp

from idp.accounts.forms import EMAIL_MESSAGE, strip
from idp.accounts.models import User
from idp.accounts.passwords import password_problems

NEW_PASSWORD_HINT = _l("At least 15 characters. A few words you will remember make a good one.")


def email_field(label: str) -> EmailField:
    return EmailField(
        label, filters=[strip],
        validators=[InputRequired(_l("Enter your email address.")), Length(max=254),
                    Email(EMAIL_MESSAGE, check_deliverability=False)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def new_password_field() -> PasswordField:
    return PasswordField(
        _l("New password"), description=NEW_PASSWORD_HINT,
        validators=[InputRequired(_l("Choose a new password.")), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )


class ForgotPasswordForm(FlaskForm):
    email = email_field(_l("Email address of your account"))


class ResetPasswordForm(FlaskForm):
    password = new_password_field()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Your current password"),
        validators=[InputRequired(_l("Enter your current password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    password = new_password_field()


class ChangeEmailForm(FlaskForm):
    email = email_field(_l("New email address"))


class PhoneForm(FlaskForm):
    phone_number = StringField(
        _l("Phone number"),
        description=_l("Leave it empty to remove your number."),
        filters=[strip],
        validators=[Optional(), Length(max=32), Regexp(
            r"^\+?[0-9 .()-]{6,31}$", message=_l("Enter a phone number like +33 6 12 34 56 78."))],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )


def check_new_password(field: Field, user: User) -> bool:
    """The new password follows the rules (NIST SP 800-63B-4, with the traveller's own
    names and address as words to avoid); else the field says why. A field that already
    has an error (empty) is left as it is."""
    if field.errors:
        return False
    problems = password_problems(field.data or "", (user.email, user.given_name,
                                                    user.family_name))
    if problems:
        field.errors.append(problems[0])
    return not problems
