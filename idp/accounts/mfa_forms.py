"""Forms of two-step verification. Every field has a visible label; errors are tied to
their field. Codes are checked by ``idp.accounts.mfa``, never by a validator, so a wrong
code and a malformed one get the same answer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.validators import InputRequired, Length

from idp.accounts.forms import OneTimeField


class CodeForm(FlaskForm):
    """The 6-digit code shown by the authenticator app."""

    code = OneTimeField(
        _l("6-digit code from your authenticator app"),
        validators=[InputRequired(_l("Enter the 6-digit code from your app.")), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                   "spellcheck": "false", "autocapitalize": "none"},
    )


class RecoveryForm(FlaskForm):
    """One of the recovery codes kept when two-step verification was turned on."""

    recovery_code = OneTimeField(
        _l("Recovery code"),
        description=_l("One of the codes you saved, like abcd-efgh-ijkl-mnop."),
        validators=[InputRequired(_l("Enter one of your recovery codes.")), Length(max=64)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )
