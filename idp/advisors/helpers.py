"""“People who help you”: the traveller's side of their mandates. Each one in words
(who, which centre, what they may do, until when), and a button that stops it at once."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp.accounts.forms import ConfirmForm
from idp.accounts.login import require_login
from idp.advisors.service import (
    ACTION_WORDS,
    METHOD_WORDS,
    mandates_of_traveller,
    query_mandate,
    record_expired,
    registered_platforms,
    revoke_mandate,
)
from idp.extensions import utcnow

bp = Blueprint("helpers", __name__)


@bp.route("/account/helpers")
def index() -> ResponseReturnValue:
    user = require_login().user
    record_expired(user)
    platforms = {c.client_id: c.client_name for c in registered_platforms()}
    return render_template("accounts/helpers.html", user=user,
                           mandates=mandates_of_traveller(user), now=utcnow(),
                           action_words=ACTION_WORDS, method_words=METHOD_WORDS,
                           platform_names=platforms, form=ConfirmForm())


@bp.route("/account/helpers/<mandate_id>/stop", methods=["POST"])
def stop(mandate_id: str) -> ResponseReturnValue:
    user = require_login().user
    mandate = query_mandate(mandate_id)
    if (mandate is not None and mandate.user_id == user.id and ConfirmForm().validate_on_submit()
            and mandate.check_in_force(utcnow())):
        revoke_mandate(mandate, "traveller")
        flash(_l("Done. %(name)s can no longer do anything for you.",
                 name=mandate.advisor.name), "success")
    return redirect(url_for("helpers.index"))
