"""The way back into an account whose password is forgotten (OWASP Forgot Password
Cheat Sheet; ASVS 2.5): a single-use link to the account's address, valid for
``password_reset_lifetime``.

- The answer to "forgot your password?" is the same page, in the same time, whether an
  account uses the address or not; the mail leaves after the answer.
- A reset ends every browser session (their platforms are told by back-channel logout),
  revokes every token the platforms hold, voids the other reset links, and tells the
  owner by mail. The traveller then logs in with the new password: a reset never logs in.
- Following a reset link proves the traveller reads the account's mail, so a reset also
  verifies the address (the link is refused if the address changed since it was sent).
- The phone route (``idp.accounts.sms_recovery``) leads to the same page with a link of
  its own kind (``Purpose.RESET_BY_SMS``), which proves the phone and not the address."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp.accounts import events, notices, sms_codes, throttle
from idp.accounts.credential_forms import ForgotPasswordForm, ResetPasswordForm, check_new_password
from idp.accounts.email_views import check_address, link_problem_page
from idp.accounts.form_pages import validate_every
from idp.accounts.links import (
    LinkError,
    Purpose,
    check_recently_sent,
    query_link,
    use_link,
    void_links,
)
from idp.accounts.login import end_sessions
from idp.accounts.models import User
from idp.accounts.passwords import hash_password
from idp.accounts.service import find_user
from idp.extensions import db, utcnow
from idp.oauth.revocation import revoke_tokens

bp = Blueprint("recovery", __name__)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot() -> ResponseReturnValue:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        response = redirect(url_for("recovery.sent"))
        user = find_user(form.email.data or "")
        # Mail only to an existing account, and not again within a minute (no flooding
        # of someone's mailbox); the answer is the same in every case.
        if user is not None and not check_recently_sent(user, Purpose.RESET_PASSWORD):
            notices.send_reset_link_later(user)
        return response
    return render_template("accounts/forgot_password.html", form=form), (
        400 if form.errors else 200
    )


@bp.route("/password/forgot/sent")
def sent() -> ResponseReturnValue:
    return render_template("accounts/forgot_password_sent.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> ResponseReturnValue:
    return reset_page(token, Purpose.RESET_PASSWORD)


@bp.route("/password/reset/by-sms/<token>", methods=["GET", "POST"])
def reset_by_sms(token: str) -> ResponseReturnValue:
    """Where the right code sent by SMS leads (``idp.accounts.sms_recovery``)."""
    return reset_page(token, Purpose.RESET_BY_SMS)


def reset_page(token: str, purpose: Purpose) -> ResponseReturnValue:
    form = ResetPasswordForm()
    try:
        user = check_address(query_link(token, purpose))
        if validate_every(form, lambda: check_new_password(form.password, user)):
            use_link(token, purpose)
            reset_password(user, form.password.data or "", purpose)
        else:
            return render_template("accounts/reset_password.html", form=form, user=user), (
                400 if form.errors else 200
            )
    except LinkError as error:
        db.session.rollback()
        return link_problem_page(error, url_for("recovery.forgot"))
    notices.notify_password_changed(user)
    flash(_l("Your password is changed. Log in with your new password."), "success")
    return redirect(url_for("accounts.login"))


def reset_password(user: User, password: str,
                   purpose: Purpose = Purpose.RESET_PASSWORD) -> None:
    """Set the new password and shut out whoever else may be in: every session ends,
    every token is revoked, the other reset links and codes are void. Commits."""
    user.password_hash = hash_password(password)
    if purpose is Purpose.RESET_PASSWORD:
        user.email_verified = True
        # The mailbox's owner chose this password: a sign-up never confirmed is confirmed.
        user.activated_at = user.activated_at or utcnow()
    for kind in (Purpose.RESET_PASSWORD, Purpose.RESET_BY_SMS):
        void_links(user, kind)
    sms_codes.void_codes(user, sms_codes.Purpose.RESET_PASSWORD)
    ended = end_sessions(user, keep=None, reason="password_reset")
    revoked = revoke_tokens(user.id)
    method = "sms" if purpose is Purpose.RESET_BY_SMS else "mail"
    events.announce(user, events.PASSWORD_RESET, sessions_ended=ended, tokens_revoked=revoked,
                    method=method)
    # The owner proved who they are: a lock ends here. Before the commit, so that a
    # throttling store that is down (503) leaves the password and the link as they were.
    throttle.unlock(user.email)
    db.session.commit()
