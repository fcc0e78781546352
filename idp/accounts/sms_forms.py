"""Forms of the phone route: a number to send a code to, the code received. Codes are
checked by ``idp.accounts.sms_codes``, never by a validator, so a wrong code and a
malformed one get the same answer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import Field, StringField
from wtforms.validators import InputRequired, Length

from idp.accounts.forms import OneTimeField, strip
from idp.accounts.phones import normalize_number
from idp.accounts.sms_codes import CodeError

NUMBER_MESSAGE = _l("Enter a phone number like +33 6 12 34 56 78.")
# What each CodeError says to the owner of the number (a signed-in traveller).
CODE_ERRORS = {
    "wrong": _l("This code is not right. Check the text message and type it again."),
    "expired": _l("This code is too old. Ask for a new one."),
    "used": _l("This code no longer works. Ask for a new one."),
    "missing": _l("This code no longer works. Ask for a new one."),
    "exhausted": _l("Too many wrong codes. Ask for a new one."),
}
# Where the reader may not own the number: one answer, whatever the reason.
ANY_CODE_ERROR = _l("This code is not right, or it no longer works. "
                    "Check it or ask for a new one.")


class SendCodeForm(FlaskForm):
    """A button that sends a new code (the CSRF token only)."""


class SmsCodeForm(FlaskForm):
    code = OneTimeField(
        _l("6-digit code from the text message"),
        validators=[InputRequired(_l("Enter the 6-digit code we sent you.")), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                   "spellcheck": "false", "autocapitalize": "none"},
    )

    def refuse(self, error: CodeError, same_for_all: bool = False) -> None:
        message = ANY_CODE_ERROR if same_for_all else CODE_ERRORS[error.reason]
        self.code.errors.append(str(message))


class MobileForm(FlaskForm):
    phone_number = StringField(
        _l("Your mobile number"), filters=[strip],
        description=_l("The number you saved in your account, like 06 12 34 56 78."),
        validators=[InputRequired(_l("Enter your mobile number.")), Length(max=32)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )


def check_number(field: Field) -> str | None:
    """The number typed, in E.164; else the field says why. A field that already has an
    error (empty) is left as it is."""
    if field.errors:
        return None
    number = normalize_number(field.data or "")
    if number is None:
        field.errors.append(str(NUMBER_MESSAGE))
    return number


def wait_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return ngettext("You can ask for a new code in %(num)d minute.",
                    "You can ask for a new code in %(num)d minutes.", minutes)
