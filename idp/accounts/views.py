"""Pages for travellers: sign up, log in, log out, the profile."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp.accounts import mfa, registration, throttle
from idp.accounts.form_pages import showing_passwords, validate_every
from idp.accounts.forms import ConfirmForm, LoginForm, ProfileForm, SignupForm
from idp.accounts.login import ACR_PASSWORD, current_user, log_in, log_out
from idp.accounts.mobility_pages import TOPICS
from idp.accounts.models import User
from idp.accounts.passwords import password_problems
from idp.accounts.redirects import safe_next
from idp.accounts.second_step import ask_second_step
from idp.accounts.service import AccountError, authenticate, normalize_email
from idp.extensions import db
from idp.oauth import interactions
from idp.oauth.models import Client
from idp.oauth.server import query_client

bp = Blueprint("accounts", __name__)
bp.add_app_template_global(showing_passwords)

# The session remembers the pending account whose password was typed, for "send again".
PENDING_KEY = "signup_pending"
PROFILE_FIELDS = (
    "given_name", "family_name", "nickname", "gender", "birthdate", "locale",
    "street_address", "postal_code", "locality", "country",
)


def pending_client() -> tuple[str | None, Client | None]:
    """The interaction this page belongs to, if any, and the platform that started it."""
    interaction_id = request.args.get("interaction")
    interaction = interactions.get(interaction_id) if interaction_id else None
    if interaction is None:
        return None, None
    # The platform's language hint follows the traveller through login and sign-up.
    g.ui_locales = next((v for k, v in interaction.params if k == "ui_locales"), None)
    return interaction.id, query_client(interaction.client_id)


def after_login(interaction_id: str | None) -> ResponseReturnValue:
    """Back to the platform's request; when it expired while the traveller logged in,
    to the page that says so and leads back to the platform (idp.oauth.expiry)."""
    interaction_id = interaction_id or expired_interaction()
    if interaction_id:
        return redirect(url_for("oauth.resume", interaction_id=interaction_id))
    return redirect(safe_next(request.args.get("next")) or url_for("accounts.profile"))


def expired_interaction() -> str | None:
    """The page's interaction, if this browser holds it expired but restartable."""
    stale = interactions.get_expired(request.args.get("interaction") or "")
    return stale.id if stale is not None else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    interaction_id, client = pending_client()
    form = LoginForm()
    if request.method == "GET" and request.args.get("login_hint"):
        form.email.data = request.args["login_hint"][:254]
    refusal = None
    if form.validate_on_submit():
        # A throttled account is refused before its password is checked (throttle.py).
        refusal = throttle.refusal("password", form.email.data)
        user = None if refusal else authenticate(form.email.data, form.password.data)
        if user is not None and user.is_pending:
            return pending_refusal(form, user, client, interaction_id)
        if user is not None:
            second_step = ask_second_step(user, interaction_id or expired_interaction())
            if second_step is not None:
                return second_step  # the password's failures are forgotten after the code
            throttle.record_success("password", form.email.data)
            log_in(user, ["pwd"], ACR_PASSWORD, request.user_agent.string)
            return after_login(interaction_id)
        if refusal is None:
            throttle.record_failure("password", form.email.data)
        # Same words whether the email is unknown or the password wrong: no enumeration.
        form.form_errors.append(
            refusal or str(_l("The email address or the password is not right.")))
    status = 200 if request.method == "GET" or not form.errors and not form.form_errors else 400
    return render_template(
        "accounts/login.html", form=form, client=client, interaction=interaction_id
    ), 429 if refusal else status


def pending_refusal(form: LoginForm, user: User, client: Client | None,
                    interaction_id: str | None) -> ResponseReturnValue:
    """The right password for an account whose address is not confirmed yet: no login,
    but a way to get the link again (only after the password, so nobody else can)."""
    throttle.record_success("password", user.email, notify=False)  # no sign-in happened
    session[PENDING_KEY] = user.id
    form.form_errors.append(str(_l("Confirm your address first: we sent you a link.")))
    return render_template("accounts/login.html", form=form, client=client,
                           interaction=interaction_id, resend=ConfirmForm()), 403


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    interaction_id, client = pending_client()
    form = SignupForm()
    if validate_every(form, lambda: check_signup_password(form)):
        try:
            registration.sign_up(form.email.data, form.password.data, form.given_name.data,
                                 form.family_name.data, interaction_id)
        except AccountError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            # The same page whether the address is new or taken: only its owner learns.
            return signup_sent(normalize_email(form.email.data), interaction_id)
    status = 400 if form.errors else 200
    return render_template(
        "accounts/signup.html", form=form, client=client, interaction=interaction_id
    ), status


def check_signup_password(form: SignupForm) -> bool:
    """The password rules, checked even when another field is wrong, so that a wrong
    address does not hide a password that will be refused too."""
    if form.password.errors:
        return False
    problems = password_problems(form.password.data or "", (
        form.email.data, form.given_name.data, form.family_name.data))
    form.password.errors.extend(problems[:1])
    return not problems


def signup_sent(email: str, interaction_id: str | None) -> ResponseReturnValue:
    return render_template("accounts/signup_sent.html", email=email,
                           interaction=interaction_id)


@bp.route("/signup/resend", methods=["POST"])
def resend_signup_link() -> ResponseReturnValue:
    """Send the confirmation link again, to the pending account whose password was just
    typed at login (kept in the session): nobody else can make us mail it."""
    interaction_id, _client = pending_client()
    form = ConfirmForm()
    user_id = session.get(PENDING_KEY)
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if not form.validate_on_submit() or user is None or not user.is_pending:
        return redirect(url_for("accounts.login", interaction=interaction_id))
    registration.resend_link_later(user.id, interaction_id)
    return signup_sent(user.email, interaction_id)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        log_out(notify_platforms=True)
        flash(_l("You are logged out."), "success")
        return redirect(url_for("accounts.home"))
    return render_template("accounts/logout.html", form=form, user=current_user())


@bp.route("/account", methods=["GET", "POST"])
def profile() -> ResponseReturnValue:
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.path))
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        update_profile(user, form)
        flash(_l("Your details are saved."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, user=user,
                           two_step=mfa.check_enabled(user)), (
        400 if form.errors else 200
    )


@bp.route("/account/mobility")
def mobility_details() -> ResponseReturnValue:
    """The overview: each topic, what is filled in, in words, and a link to change it."""
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.path))
    return render_template("accounts/mobility.html", user=user, topics=TOPICS.values())


@bp.route("/account/mobility/<slug>", methods=["GET", "POST"])
def mobility_topic(slug: str) -> ResponseReturnValue:
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.path))
    topic = TOPICS.get(slug) or abort(404)
    form = topic.form()
    if request.method == "GET":
        topic.load(form, user)
    elif form.validate_on_submit():
        topic.save(form, user)
        flash(_l("Your details are saved."), "success")
        return redirect(url_for("accounts.mobility_details"))
    return render_template("accounts/mobility_topic.html", form=form, user=user,
                           topic=topic), (400 if form.errors else 200)


def update_profile(user: User, form: ProfileForm) -> None:
    for name in PROFILE_FIELDS:
        value = getattr(form, name).data
        if isinstance(value, str):
            value = value.strip() or None
        setattr(user, name, value)
    db.session.commit()


@bp.route("/")
def home() -> ResponseReturnValue:
    return render_template("home.html", user=current_user())
