"""A traveller's history read by an advisor whose mandate allows it (issue 12): what "My
platforms" shows, read-only, each reading recorded in the audit log
(``assisted:history_read``). Here, not in idp, because the history is consent's."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from consent import audit
from consent.platforms import overview
from idp.advisors.access import require_assistance
from idp.advisors.models import READ_HISTORY
from idp.extensions import db

bp = Blueprint("advisor_history", __name__)


@bp.route("/advisor/travellers/<mandate_id>/history")
def show(mandate_id: str) -> ResponseReturnValue:
    mandate, assistance = require_assistance(mandate_id, READ_HISTORY)
    user = mandate.user
    audit.record(audit.ASSISTED_HISTORY_READ, user=user, data=assistance.audit_data())
    db.session.commit()
    return render_template("advisors/history.html", traveller=user, mandate=mandate,
                           **overview(user))
