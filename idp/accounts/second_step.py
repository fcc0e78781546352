"""The second step of an authentication: a code from the authenticator app, or a
recovery code. Two cases lead here:

- a login: the password was right and the traveller has two-step verification. No
  session exists yet; a pending marker in the signed session cookie remembers who typed
  the password, for ``PENDING_LIFETIME`` seconds;
- a step-up: a platform asks for two-step verification (``acr_values``) while the
  traveller's session has only the password. The session is raised in place
  (``idp.accounts.login.step_up``).

A code from the app gives amr ``["pwd", "otp", "mfa"]``; a recovery code ``["pwd", "mfa"]``:
RFC 8176 has no method for a printed list of one-time codes, and "otp" would tell the
platform an authenticator device was used. Both are two factors: acr ``ACR_MFA``."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from idp.accounts import mfa, throttle
from idp.accounts.events import announce_sign_in
from idp.accounts.forms import ConfirmForm
from idp.accounts.login import ACR_MFA, current_login, log_in, step_up
from idp.accounts.mfa_forms import CodeForm, RecoveryForm
from idp.accounts.models import BrowserSession, User
from idp.accounts.redirects import safe_next
from idp.extensions import db
from idp.oauth import authorize, interactions
from idp.oauth.acr import UnmetAuthenticationRequirementsError
from idp.oauth.models import Client
from idp.oauth.server import query_client

bp = Blueprint("second_step", __name__)
PENDING_KEY = "second_step"
PENDING_LIFETIME = 300
AMR_OTP = ["pwd", "otp", "mfa"]
AMR_RECOVERY = ["pwd", "mfa"]


@dataclass
class SecondStep:
    user: User
    interaction_id: str | None
    next: str | None
    login: BrowserSession | None  # the session to step up; None: a login to complete


def ask_second_step(user: User, interaction_id: str | None) -> Response | None:
    """After the right password: for a traveller with two-step verification, no session
    yet, but a redirect to the code page; None when the password is enough."""
    if not mfa.check_enabled(user):
        return None
    session[PENDING_KEY] = {"user_id": user.id, "at": time.time(),
                            "interaction": interaction_id,
                            "next": safe_next(request.args.get("next"))}
    announce_sign_in("second_step", "password")
    return redirect(url_for("second_step.code", interaction=interaction_id))


def load_second_step() -> SecondStep | None:
    """Whose second step this is: a pending login (not expired), else the current session
    when a platform's interaction asks for a step-up; None when neither."""
    pending = session.get(PENDING_KEY)
    if isinstance(pending, dict):
        if time.time() - float(pending.get("at", 0)) <= PENDING_LIFETIME:
            user = db.session.get(User, pending.get("user_id"))
            if user is not None:
                return SecondStep(user, pending.get("interaction"), pending.get("next"), None)
        session.pop(PENDING_KEY, None)
        flash(_l("For your security, this sign-in has expired. Please log in again."), "error")
        return None
    login = current_login()
    interaction = interactions.get(request.args.get("interaction") or "")
    if login is None or interaction is None or interaction.user_id != login.user_id:
        return None
    return SecondStep(login.user, interaction.id, None, login)


def restart() -> Response:
    return redirect(url_for("accounts.login", interaction=request.args.get("interaction")))


def platform_of(step: SecondStep) -> Client | None:
    interaction = interactions.get(step.interaction_id) if step.interaction_id else None
    if interaction is None:
        return None
    g.ui_locales = next((v for k, v in interaction.params if k == "ui_locales"), None)
    return query_client(interaction.client_id)


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    step = load_second_step()
    if step is None:
        return restart()
    if not mfa.check_enabled(step.user):
        return show_how_to(step) if step.login is not None else restart()
    form = CodeForm()
    outcome = None
    if form.validate_on_submit():
        outcome = check_code(step.user, form.code.data)
        if outcome.ok:
            return finish(step, AMR_OTP)
        form.code.errors.append(outcome.refusal or str(_l(
            "This code is not right, or was already used. Type the code your app shows now.")))
    return render_template("accounts/mfa_code.html", form=form, client=platform_of(step),
                           step_up=step.login is not None, interaction=step.interaction_id,
                           ), status_of(form, outcome)


def check_code(user: User, code: str | None) -> throttle.Outcome:
    """The one place a code from the app is checked at login, throttled per account."""
    return throttle.attempt("otp", user.email, lambda: mfa.check_totp(user, code))


def status_of(form: FlaskForm, outcome: throttle.Outcome | None) -> int:
    if outcome is not None and outcome.refusal:
        return 429
    return 400 if form.errors else 200


@bp.route("/login/recovery", methods=["GET", "POST"])
def recovery() -> ResponseReturnValue:
    step = load_second_step()
    if step is None or not mfa.check_enabled(step.user):
        return restart()
    form = RecoveryForm()
    outcome = None
    if form.validate_on_submit():
        outcome = check_recovery(step.user, form.recovery_code.data)
        if outcome.ok:
            response = finish(step, AMR_RECOVERY)  # a login starts a new session: flash after
            flash(_l("You used a recovery code. You have %(count)s left; you can make new "
                     "ones on your account page.",
                     count=mfa.count_recovery_codes(step.user)), "success")
            return response
        form.recovery_code.errors.append(outcome.refusal or str(_l(
            "This recovery code is not right, or was already used.")))
    return render_template("accounts/mfa_recovery.html", form=form, client=platform_of(step),
                           interaction=step.interaction_id), status_of(form, outcome)


def check_recovery(user: User, code: str | None) -> throttle.Outcome:
    """The one place a recovery code is checked at login, throttled per account (the
    same run of failures as the app's codes)."""
    return throttle.attempt("recovery", user.email,
                            lambda: mfa.check_recovery_code(user, code))


def finish(step: SecondStep, amr: list[str]) -> Response:
    """Log in, or raise the current session; then back to the platform or the page asked."""
    session.pop(PENDING_KEY, None)
    if step.login is not None:
        step_up(step.login, amr, ACR_MFA)
    else:
        # Only now is this a sign-in: the password's run of failures ends, and its owner
        # is told of a sign-in that followed several (never of a password alone).
        throttle.record_success("password", step.user.email)
        log_in(step.user, amr, ACR_MFA, request.user_agent.string)
    if step.interaction_id:
        return redirect(url_for("oauth.resume", interaction_id=step.interaction_id))
    return redirect(safe_next(step.next) or url_for("accounts.profile"))


def show_how_to(step: SecondStep) -> ResponseReturnValue:
    """The platform wants two-step verification, which this traveller has not set up:
    how to turn it on (and come back here), or go back to the platform without it."""
    resume = url_for("oauth.resume", interaction_id=step.interaction_id)
    return render_template("accounts/mfa_needed.html", client=platform_of(step),
                           enrol=url_for("mfa.enrol", next=resume), form=ConfirmForm(),
                           interaction=step.interaction_id)


@bp.route("/login/code/refuse", methods=["POST"])
def refuse() -> ResponseReturnValue:
    """Go back to the platform without two-step verification: it receives
    unmet_authentication_requirements at its redirect URI."""
    form = ConfirmForm()
    step = load_second_step()
    if not form.validate_on_submit() or step is None or step.login is None:
        return restart()
    assert step.interaction_id is not None
    return authorize.complete(step.interaction_id, None,
                              error=UnmetAuthenticationRequirementsError())
