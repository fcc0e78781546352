"""The way back into an account by phone, for a traveller who cannot read their mail: a
code sent by SMS to the account's VERIFIED mobile number, then the same "choose a new
password" page as the mailed link (``recovery_views.reset_by_sms``), with the same
effects (sessions end, tokens revoked; two-step stays asked at the next login).

As on the mail route nobody learns whether a number belongs to an account: the answer is
the same page, and the look-up and the SMS happen once the response has gone
(``registration.after_response``). The number typed stays in this browser's session only,
shown masked: whoever reads the page may not own it. A number verified on several
accounts gets no code: we could not tell which account to open. Asking again is limited
per browser (one a minute, said on a page) and per number and account in
``sms_codes`` (silently)."""

from __future__ import annotations

import time
from contextlib import suppress

from flask import Blueprint, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from idp import sms
from idp.accounts import links, registration, sms_codes
from idp.accounts.form_pages import validate_every
from idp.accounts.models import User
from idp.accounts.notices import mail_locale
from idp.accounts.phones import mask_number
from idp.accounts.sms_codes import CodeError, Purpose, TooSoon
from idp.accounts.sms_forms import MobileForm, SendCodeForm, SmsCodeForm, check_number, wait_message
from idp.extensions import db

bp = Blueprint("sms_recovery", __name__)
SESSION_KEY = "idp.sms_reset"


@bp.route("/password/forgot/sms", methods=["GET", "POST"])
def ask() -> ResponseReturnValue:
    if not sms.available():
        return redirect(url_for("recovery.forgot"))
    form = MobileForm()
    if validate_every(form, lambda: check_number(form.phone_number) is not None):
        number = check_number(form.phone_number)
        assert number
        session[SESSION_KEY] = {"number": number, "sent_at": int(time.time())}
        send_code_later(number, str(get_locale()))
        return redirect(url_for("sms_recovery.code"))
    return render_template("accounts/forgot_password_sms.html", form=form), (
        400 if form.errors else 200)


@bp.route("/password/forgot/sms/again", methods=["POST"])
def again() -> ResponseReturnValue:
    asked = session.get(SESSION_KEY)
    if not asked or not SendCodeForm().validate_on_submit():
        return redirect(url_for("sms_recovery.ask"))
    wait = sms_codes.RESEND_COOLDOWN - (int(time.time()) - int(asked["sent_at"]))
    if wait > 0:
        return render_template("accounts/sms_wait.html", message=wait_message(wait),
                               back=url_for("sms_recovery.code")), 429
    session[SESSION_KEY] = {"number": asked["number"], "sent_at": int(time.time())}
    send_code_later(asked["number"], str(get_locale()))
    return redirect(url_for("sms_recovery.code"))


@bp.route("/password/forgot/sms/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    asked = session.get(SESSION_KEY)
    if not asked:
        return redirect(url_for("sms_recovery.ask"))
    form = SmsCodeForm()
    if form.validate_on_submit():
        user = find_by_number(asked["number"])
        try:
            if user is None:
                raise CodeError("missing")
            sms_codes.use_code(user, Purpose.RESET_PASSWORD, form.code.data or "")
        except CodeError as error:
            form.refuse(error, same_for_all=True)
        else:
            token = links.generate_link(user, links.Purpose.RESET_BY_SMS)
            db.session.commit()
            session.pop(SESSION_KEY, None)
            return redirect(url_for("recovery.reset_by_sms", token=token))
    return render_template("accounts/forgot_password_code.html", form=form,
                           send_form=SendCodeForm(), number=mask_number(asked["number"])), (
        400 if form.errors else 200)


def find_by_number(number: str) -> User | None:
    """The one active account that verified this number, if exactly one did."""
    found = db.session.scalars(db.select(User).where(
        User.phone_number == number, User.phone_number_verified.is_(True),
        User.activated_at.is_not(None)).limit(2)).all()
    return found[0] if len(found) == 1 else None


def send_code_later(number: str, page_locale: str) -> None:
    """After the response: a code to this number if it opens an account, else nothing."""

    def send() -> None:
        user = find_by_number(number)
        if user is None:
            return
        # Over the limits, silently: saying so would tell that the number has an account.
        with suppress(TooSoon):
            sms_codes.send_code(user, Purpose.RESET_PASSWORD, number,
                                mail_locale(user) or page_locale)

    registration.after_response(send)
