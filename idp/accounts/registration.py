"""Sign-up that does not tell who has an account (OWASP Authentication Cheat Sheet,
"Authentication and Error Messages", which covers account creation): whether the address
is new, pending or an active account's, the form gets the same answer after the same
work (one argon2 hash); the look-up, the writes and the mail come after the response.
Only the address's owner learns which it was.

- A new address gets a pending account (``User.activated_at`` is None): it cannot sign
  in until the link mailed to the address is followed.
- An active account's address: nothing is written; its owner is told by mail that
  someone tried, with the ways to sign in or reset the password.
- A pending account's address: its password and names are replaced and a new link is
  sent (older links void), so that someone who signed up with another person's address
  cannot keep it from them. Confirming asks for the password (``activation``): a link
  alone never activates a password the mailbox's owner did not choose.
- ``prune_pending`` deletes the pending accounts whose links have all expired."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import after_this_request, copy_current_request_context
from flask.wrappers import Response
from flask_babel import get_locale
from sqlalchemy import delete, exists
from sqlalchemy.exc import IntegrityError

from idp.accounts import notices
from idp.accounts.links import EmailLink, Purpose, check_recently_sent, lifetime
from idp.accounts.models import User
from idp.accounts.passwords import hash_password
from idp.accounts.service import check_new_password, find_user, new_user, normalize_email
from idp.extensions import db, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """What the mail keeps of the page that asked for it, once the response has gone."""

    interaction_id: str | None
    locale: str


def sign_up(email: str, password: str, given_name: str | None, family_name: str | None,
            interaction_id: str | None, phone_number: str | None = None) -> None:
    """Take a sign-up; raises AccountError only for a password that may not be chosen,
    which depends on what was typed, never on what is stored. The request does the same
    work for every address (the argon2 hash); looking the address up, writing and
    mailing happen once the response has gone (``after_response``)."""
    email = normalize_email(email)
    check_new_password(password, email, given_name, family_name)
    password_hash = hash_password(password)
    # The page's language (it may come from the platform's ui_locales) is the mail's.
    page = Page(interaction_id, str(get_locale()))
    after_response(lambda: settle(email, password_hash, given_name, family_name, page,
                                  phone_number))


def after_response(work: Callable[[], None]) -> None:
    """Run ``work`` in a copy of this request's context once the WSGI server has sent
    the response: its database writes and its mail cannot lengthen the answer."""
    job = copy_current_request_context(work)

    def run() -> None:
        try:
            job()
        except Exception as exc:  # the traveller has their answer; the operator the log
            # The kind only: a database error's text would hold the address typed.
            log.error("sign-up not completed: %s", type(exc).__name__)

    @after_this_request
    def defer(response: Response) -> Response:
        response.call_on_close(run)
        return response


def settle(email: str, password_hash: str, given_name: str | None, family_name: str | None,
           page: Page, phone_number: str | None = None) -> None:
    """What a sign-up does for this address: a new pending account, a pending one
    renewed, or a word to an active account's owner."""
    user = find_user(email) or add_pending(new_user(email, password_hash, given_name,
                                                    family_name))
    if user is None:  # another sign-up took the address between the look-up and the commit
        user = find_user(email)
        assert user is not None
    if not user.is_pending:
        notices.notify_signup_attempt(user, page.locale)
        return
    replace_details(user, password_hash, given_name, family_name, phone_number)
    send_link(user, page)


def add_pending(user: User) -> User | None:
    """Store a new pending account; None when the address was taken meanwhile."""
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return user


def replace_details(user: User, password_hash: str, given_name: str | None,
                    family_name: str | None, phone_number: str | None = None) -> None:
    """The latest sign-up for a pending address wins: whoever follows the link must
    know the password chosen last, and only a code sent to the number given last can
    activate it (``idp.accounts.sms_signup``)."""
    fresh = new_user(user.email, password_hash, given_name, family_name)
    user.password_hash = fresh.password_hash
    user.given_name, user.family_name = fresh.given_name, fresh.family_name
    user.phone_number, user.phone_number_verified = phone_number, False
    db.session.commit()


def resend_link_later(user_id: int, interaction_id: str | None) -> None:
    """Send a pending account its link again, after the response."""
    page = Page(interaction_id, str(get_locale()))

    def resend() -> None:
        user = db.session.get(User, user_id)
        if user is not None and user.is_pending:
            send_link(user, page)

    after_response(resend)


def send_link(user: User, page: Page) -> None:
    """A new link to confirm the address, unless one left less than a minute ago (the
    mailbox of someone whose address is typed again and again is not flooded: the link
    already there still works, and asks for the newest password)."""
    if not check_recently_sent(user, Purpose.VERIFY_EMAIL):
        notices.send_signup_link(user, page.interaction_id, page.locale)


def prune_pending() -> int:
    """Delete the accounts never confirmed whose links have all expired; the number."""
    now = utcnow()
    live_link = exists().where(EmailLink.user_id == User.id, EmailLink.used_at.is_(None),
                               EmailLink.expires_at > now)
    cutoff = now - timedelta(seconds=lifetime(Purpose.VERIFY_EMAIL))
    ids = db.session.scalars(db.select(User.id).where(
        User.activated_at.is_(None), User.created_at < cutoff, ~live_link)).all()
    delete_pending(list(ids))
    db.session.commit()
    return len(ids)


def delete_pending(ids: list[int]) -> None:
    """Delete these pending accounts and their links (the caller commits). Nothing else
    refers to an account that never signed in."""
    if ids:
        # The links go too, also on SQLite, whose foreign keys may be off.
        db.session.execute(delete(EmailLink).where(EmailLink.user_id.in_(ids)))
        db.session.execute(delete(User).where(User.id.in_(ids), User.activated_at.is_(None)))
