"""Proving a phone number: a code sent by SMS to the number saved on /account/phone,
typed back by the signed-in traveller. Only then is ``phone_number_verified`` true,
which platforms read as the ``phone_number_verified`` claim (shared/SCOPES.md)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from idp import sms
from idp.accounts import events
from idp.accounts.login import require_login
from idp.accounts.models import User
from idp.accounts.notices import mail_locale
from idp.accounts.phones import format_number
from idp.accounts.sms_codes import CodeError, Purpose, TooSoon, query_code, send_code, use_code
from idp.accounts.sms_forms import SendCodeForm, SmsCodeForm, wait_message
from idp.extensions import db, utcnow

bp = Blueprint("phone", __name__)
bp.add_app_template_global(sms.available, "sms_available")


@bp.app_template_filter("phone")
def phone_filter(number: str | None) -> str:
    """A stored number as its owner writes it (``06 12 34 56 78``)."""
    return format_number(number) if number else ""


@bp.route("/account/phone/verify", methods=["GET", "POST"])
def verify() -> ResponseReturnValue:
    user = require_login().user
    if not user.phone_number or user.phone_number_verified or not sms.available():
        return redirect(url_for("accounts.profile"))
    form = SmsCodeForm()
    if form.validate_on_submit():
        try:
            use_code(user, Purpose.VERIFY_PHONE, form.code.data or "")
        except CodeError as error:
            form.refuse(error)
        else:
            user.phone_number_verified = True
            events.announce(user, events.PHONE_VERIFIED)
            db.session.commit()
            flash(_l("Your phone number is verified."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/verify_phone.html", form=form, send_form=SendCodeForm(),
                           number=format_number(user.phone_number),
                           sent=check_code_sent(user)), 400 if form.errors else 200


@bp.route("/account/phone/verify/send", methods=["POST"])
def send() -> ResponseReturnValue:
    user = require_login().user
    if not SendCodeForm().validate_on_submit() or not user.phone_number:
        return redirect(url_for("phone.verify"))
    return send_verification(user)


def send_verification(user: User) -> ResponseReturnValue:
    """Text a new code to the account's number, and ask for it; or say when to ask."""
    assert user.phone_number
    try:
        sent = send_code(user, Purpose.VERIFY_PHONE, user.phone_number,
                         mail_locale(user) or str(get_locale()))
    except TooSoon as wait:
        return render_template("accounts/sms_wait.html", message=wait_message(wait.wait),
                               back=url_for("phone.verify")), 429
    if not sent:
        flash(_l("We could not send the text message. Try again in a few minutes."), "error")
    return redirect(url_for("phone.verify"))


def check_code_sent(user: User) -> bool:
    """A code that may still be typed went to the account's number."""
    code = query_code(user, Purpose.VERIFY_PHONE)
    return bool(code and code.used_at is None and code.expires_at > utcnow()
                and code.number == user.phone_number)
