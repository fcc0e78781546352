"""Re-authentication before a sensitive change (OWASP ASVS 7.5.1): changing the email,
the phone number, the password or the second factor needs a password typed within the
last ``reauth_max_age`` seconds, even inside a valid session; with two-step verification
on, a code as well (from the app, or a recovery code). Confirming is a real
authentication, so it moves the session's ``auth_time``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import InputRequired, Length, Optional

from idp.accounts import mfa, throttle
from idp.accounts.forms import OneTimeField
from idp.accounts.login import current_login
from idp.accounts.models import BrowserSession, User
from idp.accounts.passwords import verify_password
from idp.accounts.redirects import safe_next
from idp.extensions import db, utcnow

bp = Blueprint("reauth", __name__)
P = ParamSpec("P")
R = TypeVar("R")


class ReauthForm(FlaskForm):
    password = PasswordField(
        _l("Your current password"),
        validators=[InputRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    # Shown and required only when two-step verification is on (see confirm_second_factor).
    code = OneTimeField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[Optional(), Length(max=64)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false",
                   "autocapitalize": "none"},
    )


def is_recent(login: BrowserSession) -> bool:
    """The traveller authenticated (logged in or confirmed) recently enough."""
    max_age = current_app.extensions["idp.settings"].reauth_max_age
    return (utcnow() - login.auth_time).total_seconds() <= max_age


def recent_login_required(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
    """Send an anonymous visitor to login, and a traveller whose authentication is older
    than ``reauth_max_age`` to the confirmation page; both come back here afterwards."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        login = current_login()
        back = request.full_path.rstrip("?")
        if login is None:
            return redirect(url_for("accounts.login", next=back))
        if not is_recent(login):
            return redirect(url_for("reauth.confirm", next=back))
        return view(*args, **kwargs)

    return guarded


@bp.route("/account/confirm", methods=["GET", "POST"])
def confirm() -> ResponseReturnValue:
    login = current_login()
    target = safe_next(request.args.get("next")) or url_for("accounts.profile")
    if login is None:
        return redirect(url_for("accounts.login", next=target))
    form = ReauthForm()
    two_step = mfa.check_enabled(login.user)
    refusal = None
    if form.validate_on_submit():
        # Throttled as at login (throttle.py): a session is no licence to guess the
        # password, nor the code, which is checked only after a right password.
        refusal = check_password(login.user, form)
        if not form.errors and two_step:
            refusal = check_second_factor(login.user, form)
        if not form.errors:
            login.auth_time = utcnow()
            db.session.commit()
            return redirect(target)
    return render_template("accounts/confirm.html", form=form, user=login.user,
                           two_step=two_step), (
        429 if refusal else 400 if form.errors else 200)


def check_password(user: User, form: ReauthForm) -> str | None:
    """None when the password is right (the field is left clean); else the refusal, if
    the account must wait, with the field saying what is wrong."""
    typed = form.password.data or ""
    outcome = throttle.attempt("password", user.email,
                               lambda: verify_password(user.password_hash, typed))
    if not outcome.ok:
        form.password.errors.append(
            outcome.refusal or str(_l("This is not your current password.")))
    return outcome.refusal


def check_second_factor(user: User, form: ReauthForm) -> str | None:
    """A code from the app or a recovery code, counted with the second step's failures
    at login; as ``check_password``."""
    outcome = throttle.attempt("otp", user.email,
                               lambda: mfa.check_second_factor(user, form.code.data))
    if not outcome.ok:
        form.code.errors.append(outcome.refusal or str(_l(
            "Type the code your app shows now, or one of your recovery codes.")))
    return outcome.refusal
