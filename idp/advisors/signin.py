"""An advisor's sign-in: the set-up link (a password, then the authenticator app, which is
required), then email and password, then a code from the app. Throttled as the travellers'
login is (idp.accounts.throttle), under keys of their own."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp.accounts import throttle
from idp.accounts.forms import ConfirmForm
from idp.accounts.mfa_views import group, render_qr
from idp.accounts.passwords import hash_password, password_problems, verify_password
from idp.accounts.redirects import safe_next
from idp.advisors import authenticator, sessions
from idp.advisors.access import current_advisor
from idp.advisors.forms import AdvisorCodeForm, AdvisorLoginForm, SetPasswordForm
from idp.advisors.models import Advisor
from idp.advisors.service import find_advisor, query_setup
from idp.extensions import db

bp = Blueprint("advisors", __name__)


def throttle_key(email: str) -> str:
    """Advisors' failures are counted apart from a traveller's of the same address."""
    return "advisor:" + email


@bp.route("/advisor/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_advisor() is not None:
        return redirect(url_for("advisor_work.dashboard"))
    form = AdvisorLoginForm()
    refusal = None
    if form.validate_on_submit():
        email = form.email.data or ""
        advisor = find_advisor(email)

        def check() -> bool:
            return verify_password(advisor.password_hash if advisor else None,
                                   form.password.data or "")

        outcome = throttle.attempt("password", throttle_key(email), check)
        refusal = outcome.refusal
        if outcome.ok and advisor is not None and advisor.revoked_at is None:
            if advisor.totp_confirmed_at is None:
                form.form_errors.append(str(_l(
                    "Your account is not ready: set up your authenticator app first, with "
                    "the link you received.")))
                return render_template("advisors/login.html", form=form), 403
            sessions.start_session(advisor, verified=False)
            return redirect(url_for("advisors.code", next=safe_next(request.args.get("next"))))
        form.form_errors.append(
            refusal or str(_l("The email address or the password is not right.")))
    status = 429 if refusal else (400 if form.errors or form.form_errors else 200)
    return render_template("advisors/login.html", form=form), status


@bp.route("/advisor/login/code", methods=["GET", "POST"])
def code() -> ResponseReturnValue:
    row = sessions.query_session()
    if row is None:
        return redirect(url_for("advisors.login"))
    if row.verified_at is not None:
        return redirect(url_for("advisor_work.dashboard"))
    advisor: Advisor = row.advisor
    form = AdvisorCodeForm()
    refusal = None
    if form.validate_on_submit():
        outcome = throttle.attempt("otp", throttle_key(advisor.email),
                                   lambda: authenticator.check_totp(advisor, form.code.data))
        refusal = outcome.refusal
        if outcome.ok:
            sessions.verify_session(row)
            return redirect(safe_next(request.args.get("next"))
                            or url_for("advisor_work.dashboard"))
        form.code.errors.append(refusal or str(_l(
            "This code is not right. Type the code your app shows now.")))
    status = 429 if refusal else (400 if form.errors else 200)
    return render_template("advisors/code.html", form=form), status


@bp.route("/advisor/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        sessions.end_session()
        flash(_l("You are signed out."), "success")
    return redirect(url_for("advisors.login"))


@bp.route("/advisor/setup/<token>", methods=["GET", "POST"])
def setup(token: str) -> ResponseReturnValue:
    """The one-time set-up link: choose a password, then add the authenticator app. The
    link stops working once the app is set up, or after 24 hours."""
    advisor = query_setup(token)
    if advisor is None:
        return render_template(
            "error.html", title=_l("This link does not work"),
            message=_l("It was used already, or it is too old. Ask your operator for a new "
                       "one.")), 404
    if advisor.password_hash is None:
        return choose_password(advisor)
    form = AdvisorCodeForm()
    if form.validate_on_submit():
        if authenticator.confirm_totp(advisor, form.code.data):
            advisor.setup_token_hash = None
            advisor.setup_expires_at = None
            db.session.commit()
            flash(_l("Your account is ready. Sign in with your password and a code from "
                     "your app."), "success")
            return redirect(url_for("advisors.login"))
        form.code.errors.append(str(_l(
            "This code is not right. Check that the app shows Mobility ID and type the "
            "code it shows now.")))
    secret = authenticator.save_pending_secret(advisor)
    return render_template(
        "advisors/setup_app.html", form=form, advisor=advisor, key=group(secret),
        qr=render_qr(authenticator.generate_provisioning_uri(advisor, secret)),
    ), 400 if form.errors else 200


def choose_password(advisor: Advisor) -> ResponseReturnValue:
    form = SetPasswordForm()
    if form.validate_on_submit():
        password = form.password.data or ""
        problems = password_problems(password, (advisor.email, advisor.name))
        if not problems:
            advisor.password_hash = hash_password(password)
            db.session.commit()
            return redirect(request.path)
        form.password.errors.append(problems[0])
    return render_template("advisors/setup_password.html", form=form, advisor=advisor), (
        400 if form.errors else 200)
