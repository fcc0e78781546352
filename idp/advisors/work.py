"""What an advisor does: the travellers they help, an account made with a traveller, a
mandate and its code (SMS or paper), and the actions a mandate allows, each checked
against the mandate in force on every request (``access.require_assistance``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp import sms
from idp.accounts import mobility
from idp.accounts.forms import ConfirmForm
from idp.accounts.links import Purpose, generate_link, lifetime
from idp.accounts.mobility_pages import TOPICS
from idp.accounts.service import find_user
from idp.advisors import events
from idp.advisors.access import refuse, require_advisor, require_assistance
from idp.advisors.forms import (
    ExistingTravellerForm,
    MandateCodeForm,
    MandateForm,
    NewTravellerForm,
    mobile_number,
)
from idp.advisors.models import CREATE_ACCOUNT, PAPER, UPDATE_DETAILS, Advisor, Mandate
from idp.advisors.service import (
    ACTION_CHOICES,
    ACTION_WORDS,
    MAX_ATTEMPTS,
    METHOD_WORDS,
    AdvisorError,
    Confirmation,
    NewMandate,
    assistance_of,
    confirm_mandate,
    create_assisted_account,
    mandates_of_advisor,
    new_code,
    query_mandate,
    registered_platforms,
    revoke_mandate,
    start_mandate,
)
from idp.extensions import db, utcnow
from idp.mail import send_mail_later
from idp.urls import issuer_url

bp = Blueprint("advisor_work", __name__)


def words() -> dict[str, Any]:
    """What every advisor page may say of a mandate."""
    platforms = {c.client_id: c.client_name for c in registered_platforms()}
    return {"action_choices": ACTION_CHOICES, "action_words": ACTION_WORDS,
            "method_words": METHOD_WORDS, "platform_names": platforms, "now": utcnow()}


@bp.route("/advisor")
def dashboard() -> ResponseReturnValue:
    advisor = require_advisor()
    return render_template("advisors/dashboard.html", advisor=advisor,
                           mandates=mandates_of_advisor(advisor), form=ConfirmForm(),
                           **words())


def offer_platforms(form: MandateForm) -> None:
    form.platforms.choices = mobility.choices(
        *((c.client_id, c.client_name) for c in registered_platforms()))


def mandate_values(form: MandateForm) -> dict[str, Any]:
    return {"actions": list(form.actions.data or []),
            "platforms": list(form.platforms.data or []),
            "months": int(form.months.data or 0), "method": form.method.data or "",
            "confirmation": form.confirmation.data or ""}


def put_error(form: MandateForm, error: AdvisorError) -> None:
    field = getattr(form, error.field, None)
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


@bp.route("/advisor/travellers/new", methods=["GET", "POST"])
def new_traveller() -> ResponseReturnValue:
    """Make a traveller's account with them, and start their mandate (which includes
    making the account). Nobody knows a password of the account: the traveller chooses
    one with the link they receive, or later with "Forgot your password?"."""
    advisor = require_advisor()
    form = NewTravellerForm()
    offer_platforms(form)
    if form.validate_on_submit():
        values = mandate_values(form)
        values["actions"] = sorted({*values["actions"], CREATE_ACCOUNT})
        try:
            user = create_assisted_account(advisor, form.email.data or "",
                                           form.given_name.data or "", form.family_name.data,
                                           mobile_number(form.phone_number.data))
            started = start_mandate(advisor, user, **values)
        except AdvisorError as error:
            db.session.rollback()
            put_error(form, error)
        else:
            events.announce(user, events.ASSISTED_ACCOUNT_CREATED,
                            assistance_of(started.mandate))
            token = generate_link(user, Purpose.RESET_PASSWORD)
            db.session.commit()
            send_mail_later(user.email, "assisted_account", user.locale,
                            name=user.given_name, advisor=advisor.name, centre=advisor.centre,
                            link=issuer_url("recovery.reset", token=token),
                            lifetime=timedelta(seconds=lifetime(Purpose.RESET_PASSWORD)),
                            forgot=issuer_url("recovery.forgot"))
            return after_start(started)
    return render_template("advisors/new_traveller.html", form=form, advisor=advisor,
                           sms_available=sms.available(), **words()), (
        400 if form.errors or form.form_errors else 200)


@bp.route("/advisor/mandates/new", methods=["GET", "POST"])
def new_mandate() -> ResponseReturnValue:
    """Ask a traveller who has an account for their permission."""
    advisor = require_advisor()
    form = ExistingTravellerForm()
    offer_platforms(form)
    if form.validate_on_submit():
        user = find_user(form.email.data or "")
        try:
            if user is None:
                raise AdvisorError("email", str(_l(
                    "No account uses this email address. Check it, or create the account.")))
            values = mandate_values(form)
            values["actions"] = [a for a in values["actions"] if a != CREATE_ACCOUNT]
            started = start_mandate(advisor, user, **values)
        except AdvisorError as error:
            db.session.rollback()
            put_error(form, error)
        else:
            db.session.commit()
            return after_start(started)
    return render_template("advisors/new_mandate.html", form=form, advisor=advisor,
                           sms_available=sms.available(), **words()), (
        400 if form.errors or form.form_errors else 200)


def after_start(started: NewMandate) -> ResponseReturnValue:
    """The paper to print (its code shown this once), or the page for the SMS code."""
    if started.mandate.confirmation == PAPER:
        return render_paper(started.mandate, started.code)
    flash(_l("We sent a code by text message. Ask the person for it."), "success")
    return redirect(url_for("advisor_work.confirm", mandate_id=started.mandate.mandate_id))


def render_paper(mandate: Mandate, code: str) -> ResponseReturnValue:
    return render_template("advisors/paper.html", mandate=mandate, code=code,
                           advisor=mandate.advisor, user=mandate.user, **words())


def own_mandate(advisor: Advisor, mandate_id: str) -> Mandate:
    mandate = query_mandate(mandate_id)
    if mandate is None or mandate.advisor_id != advisor.id:
        refuse()
    assert mandate is not None
    return mandate


@bp.route("/advisor/mandates/<mandate_id>/confirm", methods=["GET", "POST"])
def confirm(mandate_id: str) -> ResponseReturnValue:
    """The advisor types the code the traveller received or signed."""
    advisor = require_advisor()
    mandate = own_mandate(advisor, mandate_id)
    form = MandateCodeForm()
    if form.validate_on_submit():
        result = confirm_mandate(mandate, form.code.data)
        if result == Confirmation.CONFIRMED:
            flash(_l("Thank you. You may now help this person."), "success")
            return redirect(url_for("advisor_work.dashboard"))
        form.code.errors.append(str({
            Confirmation.WRONG: _l("This code is not right. Check it with the person and "
                                   "type it again."),
            Confirmation.EXPIRED: _l("This code is too old. Ask for a new code below."),
            Confirmation.BLOCKED: _l("The code was wrong too many times. Start again with a "
                                     "new request."),
            Confirmation.DONE: _l("This request is already closed."),
        }[result]))
    return render_template("advisors/confirm.html", form=form, mandate=mandate,
                           user=mandate.user, new_code_form=ConfirmForm(),
                           max_attempts=MAX_ATTEMPTS, **words()), (
        400 if form.errors else 200)


@bp.route("/advisor/mandates/<mandate_id>/code", methods=["POST"])
def send_new_code(mandate_id: str) -> ResponseReturnValue:
    """A new code: sent again by SMS, or a new paper to print."""
    advisor = require_advisor()
    mandate = own_mandate(advisor, mandate_id)
    form = ConfirmForm()
    if not form.validate_on_submit() or mandate.confirmed_at is not None \
            or mandate.revoked_at is not None or mandate.code_hash is None:
        return redirect(url_for("advisor_work.confirm", mandate_id=mandate_id))
    code = new_code(mandate)
    db.session.commit()
    return after_start(NewMandate(mandate, code))


@bp.route("/advisor/mandates/<mandate_id>/stop", methods=["POST"])
def stop(mandate_id: str) -> ResponseReturnValue:
    """The advisor ends a mandate (the help is over)."""
    advisor = require_advisor()
    mandate = own_mandate(advisor, mandate_id)
    if ConfirmForm().validate_on_submit() and revoke_mandate(mandate, "advisor"):
        flash(_l("You stopped helping this person."), "success")
    return redirect(url_for("advisor_work.dashboard"))


@bp.route("/advisor/travellers/<mandate_id>/details")
def details(mandate_id: str) -> ResponseReturnValue:
    """The traveller's travel details by topic, as their own overview shows them."""
    mandate, _ = require_assistance(mandate_id, UPDATE_DETAILS)
    return render_template("advisors/details.html", user=mandate.user, mandate=mandate,
                           topics=TOPICS.values())


@bp.route("/advisor/travellers/<mandate_id>/details/<slug>", methods=["GET", "POST"])
def details_topic(mandate_id: str, slug: str) -> ResponseReturnValue:
    """One topic changed for the traveller, under a mandate that allows it, with the
    same form, loading and saving as their own page (idp.accounts.mobility_pages)."""
    mandate, assistance = require_assistance(mandate_id, UPDATE_DETAILS)
    topic = TOPICS.get(slug) or abort(404)
    user = mandate.user
    form = topic.form()
    if request.method == "GET":
        topic.load(form, user)
    elif form.validate_on_submit():
        events.announce(user, events.ASSISTED_DETAILS_UPDATED, assistance, topic=topic.slug)
        topic.save(form, user)  # commits, with the audit row
        flash(_l("Their travel details are saved."), "success")
        return redirect(url_for("advisor_work.details", mandate_id=mandate_id))
    return render_template("advisors/details_topic.html", form=form, user=user,
                           mandate=mandate, topic=topic), 400 if form.errors else 200
