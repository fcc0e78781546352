"""The consent screen in assisted mode (issue 12, assisted access): an advisor, under a
mandate naming the platform, goes through the consent screen with the traveller, beside
them or on the phone, and records their answer for them.

The same screen (templates/consent/consent.html with a banner), the same checks of the
answer (consent.views) and the same record (consent.records.give, with the Assistance).
Checks, on every request, GET and POST alike:
- an advisor is signed in (else the advisor's sign-in page, then back here);
- the mandate in the path is theirs, in force, and allows consent to this very platform
  (idp.advisors.access.require_assistance, which gives the same Assistance as
  assistance_for, read from the database: a revoked mandate stops the advisor at once);
  otherwise the advisors' 403 page, and nothing is recorded;
- the form's CSRF token (Flask-WTF), and every ticked item was offered on the screen."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from consent import records
from consent.assisted import Assistance
from consent.scopes import CATALOGUE, Scope, describe
from consent.screen import CLAIM_LABELS, Line, build_lines, shown_record
from consent.step import unanswered
from consent.views import ConsentAnswerError, check_answer, chosen
from idp.accounts.forms import ConfirmForm
from idp.accounts.models import User
from idp.advisors.access import refuse, require_assistance
from idp.advisors.models import CONSENT
from idp.errors import error_page
from idp.extensions import db
from idp.oauth.models import Client
from idp.oauth.server import query_client

bp = Blueprint("assisted_consent", __name__, url_prefix="/advisor/travellers")

class Helped:
    """The traveller, the platform and the help in force, once the mandate checks out."""

    def __init__(self, user: User, client: Client, assistance: Assistance) -> None:
        self.user, self.client, self.assistance = user, client, assistance


def require_helped(mandate_id: str, client_id: str) -> Helped:
    """Who is helped for which platform, if the current advisor may give consent for them
    to it now; otherwise the request ends (sign-in page, or 403 page)."""
    mandate, assistance = require_assistance(mandate_id, CONSENT, client_id)
    client = query_client(client_id)
    if client is None:  # named by the mandate, deleted since
        refuse()
    return Helped(mandate.user, client, assistance)


def asked_lines(helped: Helped) -> tuple[list[Line], list[Scope]]:
    """What to ask, as the traveller's own screen asks it (consent.step): a line per
    scope the platform registered that the consent in force does not answer yet (health
    data every time), nothing optional ticked; and what is already shared."""
    scopes = [s for s in helped.client.scope.split() if s in CATALOGUE]
    record = records.current(helped.user.id, helped.client.client_id)
    if record is not None:
        scopes, _ = unanswered(record, scopes, {})
    lines = build_lines(helped.user, helped.client, scopes)
    shown = {line.scope.name for line in lines}
    already = [] if record is None else [describe(s) for s in record.scopes_granted
                                         if s not in shown and s != "openid"]
    return lines, already


@bp.route("/<mandate_id>/consent/<client_id>", methods=["GET", "POST"])
def consent(mandate_id: str, client_id: str) -> ResponseReturnValue:
    helped = require_helped(mandate_id, client_id)
    lines, already = asked_lines(helped)
    if not lines:  # everything answered already: nothing to ask, nothing to record
        return redirect(url_for("assisted_consent.done", mandate_id=mandate_id,
                                client_id=client_id), 303)
    form = ConfirmForm()
    if form.validate_on_submit():
        answer = request.form.get("decision")
        if answer == "deny":
            return render_template("consent/assisted_done.html", helped=helped, shared=None,
                                   back_url=url_for("advisor_work.dashboard"))
        if answer != "allow":
            return error_page(ConsentAnswerError("The answer is neither allow nor deny."))
        return record_answer(helped, lines, mandate_id)
    return render_template(
        "consent/consent.html", form=form, client=helped.client, user=helped.user,
        lines=lines, already=already, record=None, claim_labels=CLAIM_LABELS,
        assisted=helped.assistance, menu_items=[],
        action=url_for("assisted_consent.consent", mandate_id=mandate_id,
                       client_id=client_id))


def record_answer(helped: Helped, lines: list[Line], mandate_id: str) -> ResponseReturnValue:
    """The answer, checked as the traveller's own is (consent.views), recorded with the
    help it was given with."""
    shown = shown_record(lines, {})
    ticked, ticked_claims = request.form.getlist("scope"), request.form.getlist("claim")
    problem = check_answer(shown, ticked, ticked_claims)
    if problem:
        return error_page(ConsentAnswerError(problem))
    scopes, claims = chosen(shown, ticked, ticked_claims)
    refused_scopes = [s for s in shown["offered"] if s not in scopes]
    records.give(helped.user, helped.client, None, scopes, claims, refused_scopes,
                 shown["purposes"], shown["language"], assistance=helped.assistance)
    db.session.commit()
    return redirect(url_for("assisted_consent.done", mandate_id=mandate_id,
                            client_id=helped.client.client_id), 303)


@bp.route("/<mandate_id>/consent/<client_id>/done")
def done(mandate_id: str, client_id: str) -> ResponseReturnValue:
    """What the platform may now see, in words the advisor reads to the traveller."""
    helped = require_helped(mandate_id, client_id)
    record = records.current(helped.user.id, client_id)
    shared = [] if record is None else [describe(s) for s in record.scopes_granted
                                        if s != "openid"]
    return render_template("consent/assisted_done.html", helped=helped,
                           shared=shared if record else None,
                           back_url=url_for("advisor_work.dashboard"))
