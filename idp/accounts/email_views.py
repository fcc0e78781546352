"""The account's email address: following a verification link, asking for a new one,
changing the address (ASVS 7.5.1: behind a recent login, and only once the new address
has proved it reads its mail; the old address is told).

A link opens a page with one button rather than acting on the GET: mail scanners that
open every link in a message must not spend it, nor change anything."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from idp.accounts import activation, events, notices, registration
from idp.accounts.credential_forms import ChangeEmailForm
from idp.accounts.forms import ConfirmForm
from idp.accounts.links import (
    EmailLink,
    LinkError,
    Purpose,
    check_recently_sent,
    lifetime,
    query_link,
    use_link,
    void_links,
)
from idp.accounts.login import current_user
from idp.accounts.models import User
from idp.accounts.reauth import recent_login_required
from idp.accounts.service import find_user, normalize_email
from idp.extensions import db

bp = Blueprint("email", __name__)

LINK_PROBLEMS = {
    "invalid": (400, _l("This link does not work"),
                _l("The link is incomplete, was changed, or is no longer valid. Copy the "
                   "whole link from the email, or ask for a new one.")),
    "expired": (410, _l("This link has expired"),
                _l("For your security, the links in our emails work only for a limited "
                   "time. Ask for a new one.")),
    "used": (410, _l("This link no longer works"),
             _l("Each link works only once, and only the newest one we sent you works. "
                "Ask for a new one if you still need it.")),
}


def link_problem_page(error: LinkError, again_url: str) -> ResponseReturnValue:
    """A friendly page for a link that cannot be followed, with a way to get a new one."""
    status, title, message = LINK_PROBLEMS[error.reason]
    return render_template("accounts/link_problem.html", title=title, message=message,
                           again_url=again_url), status


def link_duration(purpose: Purpose) -> str:
    """How long a new link of this kind works, in words of the page's language."""
    return format_timedelta(timedelta(seconds=lifetime(purpose)))


@bp.route("/email/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> ResponseReturnValue:
    """Follow the link sent to the account's address: the address is verified. For an
    account still pending, the link ends the sign-up (``activation``)."""
    form = ConfirmForm()
    try:
        link = query_link(token, Purpose.VERIFY_EMAIL)
        user = check_address(link)
        if user.is_pending:
            return activation.confirm_signup(token, user)
        if not form.validate_on_submit():
            return render_template("accounts/verify_email.html", form=form, email=link.email)
        use_link(token, Purpose.VERIFY_EMAIL)
    except LinkError as error:
        db.session.rollback()
        return link_problem_page(error, url_for("accounts.profile"))
    user.email_verified = True
    events.announce(user, events.EMAIL_VERIFIED)
    db.session.commit()
    flash(_l("Thank you, your email address is confirmed."), "success")
    return redirect(url_for("accounts.profile"))


def check_address(link: EmailLink) -> User:
    """The link's traveller, while the link's address is still the account's."""
    user = db.session.get(User, link.user_id)
    if user is None or user.email != link.email:
        raise LinkError("invalid")
    return user


@bp.route("/account/email/resend", methods=["POST"])
def resend() -> ResponseReturnValue:
    """Send the verification link again (CSRF-checked, like every form)."""
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=url_for("accounts.profile")))
    if user.email_verified:
        flash(_l("Your email address is already confirmed."), "success")
    elif check_recently_sent(user, Purpose.VERIFY_EMAIL):
        flash(_l("We sent you a link less than a minute ago. Look in your mailbox, and in "
                 "its spam folder."), "success")
    else:
        notices.send_verification(user)
        flash(_("We sent a new link to %(email)s. It works for %(duration)s.",
                email=user.email, duration=link_duration(Purpose.VERIFY_EMAIL)), "success")
    return redirect(url_for("accounts.profile"))


@bp.route("/account/email", methods=["GET", "POST"])
@recent_login_required
def change() -> ResponseReturnValue:
    """Ask for a new address. It becomes the account's only when the link we send it
    is followed; until then the current address stays."""
    user = current_user()
    assert user is not None  # recent_login_required
    form = ChangeEmailForm()
    if form.validate_on_submit():
        new_email = normalize_email(form.email.data or "")
        if new_email == user.email:
            form.email.errors.append(str(_l("This is already your email address.")))
        else:
            # Sent even when another account uses the address: the answer here tells
            # nothing, and only the address's owner learns, at the link, that it is taken.
            notices.send_change_link(user, new_email)
            flash(_("We sent a link to %(email)s. Follow it within %(duration)s to use this "
                    "address. Until then, your address stays %(current)s.", email=new_email,
                    duration=link_duration(Purpose.CHANGE_EMAIL), current=user.email),
                  "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_email.html", form=form, user=user), (
        400 if form.errors else 200
    )


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_change(token: str) -> ResponseReturnValue:
    """Follow the link sent to a new address: it becomes the account's, verified."""
    form = ConfirmForm()
    try:
        link = query_link(token, Purpose.CHANGE_EMAIL)
        if not form.validate_on_submit():
            return render_template("accounts/confirm_email_change.html", form=form,
                                   email=link.email)
        use_link(token, Purpose.CHANGE_EMAIL)
    except LinkError as error:
        db.session.rollback()
        return link_problem_page(error, url_for("email.change"))
    user = db.session.get(User, link.user_id)
    assert user is not None  # the link's row goes with its traveller (ON DELETE CASCADE)
    old_email = user.email
    if not move_address(user, link.email):
        return render_template("accounts/link_problem.html", title=_l("This address is taken"),
                               message=_l("Another Mobility ID account already uses this "
                                          "email address, so it cannot be added to a second "
                                          "one."), again_url=None), 409
    notices.notify_email_changed(user, old_email)
    flash(_("Your email address is now %(email)s.", email=user.email), "success")
    return redirect(url_for("accounts.profile"))


def move_address(user: User, new_email: str) -> bool:
    """Make ``new_email`` the account's address, verified by the link just followed.
    False (nothing changed) when another account took it in the meantime. Links sent to
    the old address (verification, password reset) stop working."""
    taken = find_user(new_email)
    if taken is not None and taken.is_pending:
        # A sign-up never confirmed gives way to an account whose owner just proved
        # they read this address: nobody can block an address by signing up with it.
        registration.delete_pending([taken.id])
    elif taken is not None:
        db.session.rollback()
        return False
    user.email = new_email
    user.email_verified = True
    for purpose in Purpose:
        void_links(user, purpose)
    events.announce(user, events.EMAIL_CHANGED)
    try:
        db.session.commit()
    except IntegrityError:  # another account took it between the check and the commit
        db.session.rollback()
        return False
    return True
