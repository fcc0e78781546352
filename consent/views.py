"""Where the consent screen posts the traveller's answer."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from consent.models import record_grant
from idp.accounts.forms import ConfirmForm as ConsentForm
from idp.accounts.login import current_login
from idp.errors import error_page
from idp.oauth import interactions
from idp.oauth.authorize import complete, expired_error
from idp.oauth.decisions import Decision
from idp.oauth.server import query_client

bp = Blueprint("consent", __name__)


@bp.route("/consent/<interaction_id>", methods=["POST"])
def decide(interaction_id: str) -> ResponseReturnValue:
    form = ConsentForm()
    answer = request.form.get("decision")
    interaction = interactions.get(interaction_id)
    login = current_login()
    if not form.validate_on_submit() or answer not in ("allow", "deny"):
        return error_page(expired_error())
    if interaction is None or login is None or interaction.user_id != login.user_id:
        return error_page(expired_error())
    if answer == "deny":
        return complete(interaction_id, None)
    client = query_client(interaction.client_id)
    if client is None:
        return error_page(expired_error())
    scopes = client.get_allowed_scope(requested_scope(interaction.params)).split()
    record_grant(login.user_id, interaction.client_id, scopes)
    return complete(interaction_id, Decision(scopes=scopes))


def requested_scope(params: list[tuple[str, str]]) -> str:
    return next((value for key, value in params if key == "scope"), "")
