"""The operator's page: the advisors, a new one (their set-up link shown once), and
revoking one, which stops them at once on every instance."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp.accounts.forms import ConfirmForm
from idp.advisors.access import refuse, require_advisor
from idp.advisors.forms import AddAdvisorForm
from idp.advisors.models import Advisor
from idp.advisors.service import AdvisorError, add_advisor, all_advisors, revoke_advisor
from idp.extensions import db

bp = Blueprint("operator", __name__)


@bp.route("/operator/advisors", methods=["GET", "POST"])
def advisors() -> ResponseReturnValue:
    operator = require_advisor(operator=True)
    form = AddAdvisorForm()
    link = added = None
    if form.validate_on_submit():
        try:
            added, link = add_advisor(form.email.data or "", form.name.data or "",
                                      form.centre.data or "", form.role.data or "advisor")
        except AdvisorError as error:
            field = getattr(form, error.field, None)
            if field is not None:
                field.errors = [*field.errors, error.message]
            else:
                form.form_errors.append(error.message)
        else:
            form = AddAdvisorForm(formdata=None)
    return render_template("advisors/operator.html", form=form, operator=operator,
                           advisors=all_advisors(), link=link, added=added,
                           revoke_form=ConfirmForm()), 400 if form.errors else 200


@bp.route("/operator/advisors/<public_id>/revoke", methods=["POST"])
def revoke(public_id: str) -> ResponseReturnValue:
    operator = require_advisor(operator=True)
    advisor = db.session.scalar(db.select(Advisor).where(Advisor.public_id == public_id[:32]))
    if advisor is None:
        refuse(operator_page=True)
    assert advisor is not None
    if advisor.id == operator.id:
        flash(_l("You cannot stop your own access. Ask another operator."), "error")
    elif ConfirmForm().validate_on_submit() and advisor.revoked_at is None:
        revoke_advisor(advisor)
        flash(_l("%(name)s can no longer sign in or help anyone.", name=advisor.name),
              "success")
    return redirect(url_for("operator.advisors"))
