"""Finishing a sign-up by phone instead of the mailed link: when the traveller gave a
mobile number, the "check your mailbox" page offers a code by SMS. The right code
activates the pending account with its number verified; the address stays unverified
until its own link is followed.

Like the sign-up itself (``idp.accounts.registration``), this tells nobody whether the
address already had an account: the pages are the same, and the code leaves after the
response, only to a pending account whose latest sign-up gave this number. A code sent
for an earlier sign-up of the same address is refused (its number is not the account's
any more), so the code only ever activates the password chosen last, by whoever typed
the number. The session keeps what this browser signed up with; the traveller then logs
in with their password."""

from __future__ import annotations

import time
from contextlib import suppress

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from idp.accounts import events, registration, sms_codes
from idp.accounts.models import User
from idp.accounts.phones import format_number
from idp.accounts.service import find_user
from idp.accounts.sms_codes import CodeError, Purpose, TooSoon
from idp.accounts.sms_forms import SendCodeForm, SmsCodeForm, wait_message
from idp.extensions import db, utcnow

bp = Blueprint("sms_signup", __name__)
SESSION_KEY = "idp.sms_signup"


def offer(email: str, number: str | None, interaction_id: str | None) -> None:
    """Remember this browser's sign-up, so that its "check your mailbox" page can offer
    a code by SMS (or forget an earlier one, without a number)."""
    if number:
        session[SESSION_KEY] = {"email": email, "number": number,
                                "interaction": interaction_id, "sent_at": 0}
    else:
        session.pop(SESSION_KEY, None)


def offered(email: str) -> str | None:
    """The number, as typed back to its owner, when this browser may ask for a code."""
    asked = session.get(SESSION_KEY)
    return format_number(asked["number"]) if asked and asked["email"] == email else None


@bp.route("/signup/sms", methods=["POST"])
def send() -> ResponseReturnValue:
    asked = session.get(SESSION_KEY)
    if not asked or not SendCodeForm().validate_on_submit():
        return redirect(url_for("accounts.signup"))
    wait = sms_codes.RESEND_COOLDOWN - (int(time.time()) - int(asked["sent_at"]))
    if wait > 0:
        return render_template("accounts/sms_wait.html", message=wait_message(wait),
                               back=url_for("sms_signup.code")), 429
    session[SESSION_KEY] = {**asked, "sent_at": int(time.time())}
    send_code_later(asked["email"], asked["number"], str(get_locale()))
    return redirect(url_for("sms_signup.code"))


@bp.route("/signup/sms/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    asked = session.get(SESSION_KEY)
    if not asked:
        return redirect(url_for("accounts.signup"))
    form = SmsCodeForm()
    if form.validate_on_submit():
        try:
            activate(find_pending(asked["email"], asked["number"]), form.code.data or "")
        except CodeError as error:
            form.refuse(error, same_for_all=True)
        else:
            session.pop(SESSION_KEY, None)
            flash(_l("Your account is ready. Log in with your password."), "success")
            return redirect(url_for("accounts.login", interaction=asked["interaction"]))
    return render_template("accounts/signup_code.html", form=form, send_form=SendCodeForm(),
                           number=format_number(asked["number"])), 400 if form.errors else 200


def find_pending(email: str, number: str) -> User | None:
    """The pending account of this address, if its latest sign-up gave this number."""
    user = find_user(email)
    if user is None or not user.is_pending or user.phone_number != number:
        return None
    return user


def activate(user: User | None, typed: str) -> None:
    """The right code to the number given last: the account may sign in, its number is
    verified, its address is not (yet). Raises CodeError."""
    if user is None:
        raise CodeError("missing")
    used = sms_codes.use_code(user, Purpose.ACTIVATE, typed)
    if used.number != user.phone_number:
        db.session.rollback()
        raise CodeError("wrong")
    user.activated_at = utcnow()
    user.phone_number_verified = True
    events.announce(user, events.PHONE_VERIFIED)
    db.session.commit()


def send_code_later(email: str, number: str, page_locale: str) -> None:
    """After the response: a code if a pending account signed up with this number."""

    def send() -> None:
        user = find_pending(email, number)
        if user is not None:
            with suppress(TooSoon):  # silently: the page is the same for every address
                sms_codes.send_code(user, Purpose.ACTIVATE, number, page_locale)

    registration.after_response(send)
