"""The mail an account's owner gets about their address and password: links to follow
(verify an address, confirm a new one, reset the password) and notices of a change.
Every link is built under the issuer (``idp.urls``), never under the request's Host.

Each message is in the traveller's own language when they chose one, else the page's.
Links are written to the database and committed before the mail leaves, so a link in a
mailbox always exists; a mail server that fails is logged by ``idp.mail`` and does not
undo the change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from idp import mail
from idp.accounts.links import Purpose, generate_link, lifetime
from idp.accounts.models import User
from idp.extensions import db
from idp.i18n import first_supported
from idp.urls import issuer_url

LINK_VIEWS = {
    Purpose.VERIFY_EMAIL: "email.verify",
    Purpose.CHANGE_EMAIL: "email.confirm_change",
    Purpose.RESET_PASSWORD: "recovery.reset",
}


def mail_locale(user: User) -> str | None:
    """The traveller's chosen language as one we speak ("fr-FR" is "fr"), if any."""
    return first_supported(user.locale)


def create_link_mail(user: User, purpose: Purpose, to: str) -> tuple[str, dict[str, Any]]:
    """Write a new link to the database (committed) and the context of its mail."""
    token = generate_link(user, purpose, to)
    db.session.commit()
    return purpose.value, {
        "user": user,
        "link": issuer_url(LINK_VIEWS[purpose], token=token),
        "lifetime": timedelta(seconds=lifetime(purpose)),
    }


def send_verification(user: User) -> bool:
    """Send the account's address a link that proves the traveller reads it."""
    template, context = create_link_mail(user, Purpose.VERIFY_EMAIL, user.email)
    return mail.send_mail(user.email, template, mail_locale(user), **context)


def send_change_link(user: User, new_email: str) -> bool:
    """Send a new address the link that makes it the account's."""
    template, context = create_link_mail(user, Purpose.CHANGE_EMAIL, new_email)
    return mail.send_mail(new_email, template, mail_locale(user), **context)


def send_reset_link_later(user: User) -> None:
    """Send the password reset link once the response is on its way: the answer to
    "forgot your password?" then takes the same time whether the account exists or not."""
    template, context = create_link_mail(user, Purpose.RESET_PASSWORD, user.email)
    mail.send_mail_later(user.email, template, mail_locale(user), **context)


def notify_password_changed(user: User) -> bool:
    return mail.send_mail(user.email, "password_changed", mail_locale(user), user=user,
                          account=issuer_url("accounts.profile"),
                          forgot=issuer_url("recovery.forgot"))


def notify_email_changed(user: User, old_email: str) -> bool:
    """Tell the old address that it no longer signs in to the account."""
    return mail.send_mail(old_email, "email_changed", mail_locale(user), user=user,
                          new_email=mask_email(user.email))


def mask_email(email: str) -> str:
    """Enough of an address for its owner to recognise it, little for anyone else:
    ``u…@example.org``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


def send_signup_link(user: User, interaction_id: str | None, page_locale: str) -> bool:
    """Send a new account's address the link that confirms it and activates the account,
    in the sign-up page's language; the platform's pending request, if any, rides along
    so its flow can go on."""
    token = generate_link(user, Purpose.VERIFY_EMAIL, user.email)
    db.session.commit()
    link = issuer_url(LINK_VIEWS[Purpose.VERIFY_EMAIL], token=token,
                      interaction=interaction_id)
    return mail.send_mail(user.email, "confirm_signup", mail_locale(user) or page_locale,
                          user=user, link=link,
                          lifetime=timedelta(seconds=lifetime(Purpose.VERIFY_EMAIL)))


def notify_signup_attempt(user: User, page_locale: str) -> bool:
    """Tell an account's owner that someone tried to sign up with their address: the
    sign-up page itself says nothing of it."""
    return mail.send_mail(user.email, "signup_attempt", mail_locale(user) or page_locale,
                          user=user, login=issuer_url("accounts.login"),
                          forgot=issuer_url("recovery.forgot"))
