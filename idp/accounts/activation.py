"""The end of a sign-up: the link mailed to the new address, followed, with the password
chosen typed again. Both together activate the account and sign the traveller in, and a
platform's request that led to the sign-up goes on in the same browser.

Asking for the password is what makes replacing a pending account's password safe
(``idp.accounts.registration``): if someone else signed up with this address after its
owner, the owner's link would otherwise activate a password the attacker knows
(account pre-hijacking). A link alone never signs anyone in."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp.accounts import events, throttle
from idp.accounts.forms import ConfirmSignupForm
from idp.accounts.links import Purpose, use_link
from idp.accounts.login import ACR_PASSWORD, log_in
from idp.accounts.models import User
from idp.accounts.passwords import verify_password
from idp.accounts.views import after_login
from idp.extensions import db, utcnow
from idp.oauth import interactions


def confirm_signup(token: str, user: User) -> ResponseReturnValue:
    """The page of a pending account's link: GET shows the form (a mail scanner spends
    nothing), POST with the right password activates and signs in. Raises LinkError."""
    interaction_id = live_interaction()
    form = ConfirmSignupForm()
    refusal = None
    if form.validate_on_submit():
        outcome = throttle.attempt("password", user.email,
                                   lambda: verify_password(user.password_hash,
                                                           form.password.data or ""))
        if outcome.ok:
            use_link(token, Purpose.VERIFY_EMAIL)
            activate(user)
            log_in(user, ["pwd"], ACR_PASSWORD, request.user_agent.string)
            return after_login(interaction_id)
        refusal = outcome.refusal
        form.password.errors.append(refusal or str(_l(
            "This is not the password you chose. If you forgot it, create your account "
            "again with the same address.")))
    status = 429 if refusal else 400 if form.errors else 200
    return render_template("accounts/confirm_signup.html", form=form, email=user.email,
                           interaction=interaction_id), status


def activate(user: User) -> None:
    """The address is proved and the password known: the account may sign in."""
    user.activated_at = utcnow()
    user.email_verified = True
    events.announce(user, events.EMAIL_VERIFIED)
    db.session.commit()


def live_interaction() -> str | None:
    """The platform's request carried by the link, if this browser still holds it."""
    interaction_id = request.args.get("interaction")
    if interaction_id and interactions.get(interaction_id) is not None:
        return interaction_id
    return None
