"""What every account form shares (issue 12, item 3): every error found at once, and
the traveller's wish to see the password they type.

The templates' side is in ``templates/_macros.html``: the error summary that takes the
focus, each field tied to its error, the "Error: " title and the show-password box."""

from __future__ import annotations

from collections.abc import Callable

from flask import request
from flask_wtf import FlaskForm

Check = Callable[[], bool]


def validate_every(form: FlaskForm, *checks: Check) -> bool:
    """Validate a submitted form and run every further check even when an earlier one
    failed, so that the page lists every problem at once (GOV.UK "Error summary"; WCAG
    3.3.1 and 3.3.3). Each check adds its own errors to its field, and should do nothing
    when that field already has one (an empty password is not checked against rules)."""
    if not form.is_submitted():
        return False
    valid = form.validate_on_submit()
    results = [check() for check in checks]
    return valid and all(results)


def showing_passwords() -> bool:
    """True when the form just sent asked to show the passwords: the page that comes back
    shows its password fields as text, empty. The password itself is never echoed."""
    return request.method == "POST" and request.form.get("show_password") == "1"
