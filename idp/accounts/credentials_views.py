"""Changing the password and the phone number, behind a recent login (ASVS 7.5.1).

Changing the password also asks for the current one (ASVS 2.1.6), ends the traveller's
other sessions (their platforms are told by back-channel logout), voids outstanding reset
links, and tells the owner by mail."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp import sms
from idp.accounts import events, notices, phone_views, throttle
from idp.accounts.credential_forms import ChangePasswordForm, PhoneForm, check_new_password
from idp.accounts.form_pages import validate_every
from idp.accounts.links import Purpose, void_links
from idp.accounts.login import end_sessions, require_login
from idp.accounts.models import User
from idp.accounts.passwords import hash_password, verify_password
from idp.accounts.phones import normalize_number
from idp.accounts.reauth import recent_login_required
from idp.accounts.sms_forms import check_number
from idp.extensions import db

bp = Blueprint("credentials", __name__)


@bp.route("/account/password", methods=["GET", "POST"])
@recent_login_required
def change_password() -> ResponseReturnValue:
    login = require_login()
    user = login.user
    form = ChangePasswordForm()
    # Both passwords are checked, so that the page lists every problem at once.
    if validate_every(form, lambda: check_current_password(form, user),
                      lambda: check_new_password(form.password, user)):
        user.password_hash = hash_password(form.password.data or "")
        void_links(user, Purpose.RESET_PASSWORD)
        ended = end_sessions(user, keep=login, reason="password_changed")
        events.announce(user, events.PASSWORD_CHANGED, sessions_ended=ended)
        db.session.commit()
        notices.notify_password_changed(user)
        flash(_l("Your password is changed. Your other devices are logged out."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_password.html", form=form, user=user), (
        400 if form.errors else 200
    )


def check_current_password(form: ChangePasswordForm, user: User) -> bool:
    """The current password, throttled like a login: a session is no licence to guess."""
    if form.current_password.errors:
        return False  # empty: nothing to count against the throttle
    typed = form.current_password.data or ""
    outcome = throttle.attempt("password", user.email,
                               lambda: verify_password(user.password_hash, typed))
    if outcome.ok:
        return True
    form.current_password.errors.append(
        outcome.refusal or str(_l("This is not your current password.")))
    return False


@bp.route("/account/phone", methods=["GET", "POST"])
@recent_login_required
def change_phone() -> ResponseReturnValue:
    user = require_login().user
    form = PhoneForm(obj=user)
    if validate_every(form, lambda: check_phone(form)):
        number = normalize_number(form.phone_number.data or "")
        if number != user.phone_number:
            user.phone_number = number
            user.phone_number_verified = False  # a new number is not verified
            events.announce(user, events.PHONE_CHANGED, removed=number is None)
            db.session.commit()
        flash(_l("Your phone number is saved.") if number else
              _l("Your phone number is removed."), "success")
        if number and not user.phone_number_verified and sms.available():
            return phone_views.send_verification(user)  # "We sent a code to 06 12 …"
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_phone.html", form=form, user=user), (
        400 if form.errors else 200
    )


def check_phone(form: PhoneForm) -> bool:
    """Empty (removing the number) or a number we can text (stored in E.164)."""
    if not form.phone_number.data or form.phone_number.errors:
        return not form.phone_number.errors
    return check_number(form.phone_number) is not None
