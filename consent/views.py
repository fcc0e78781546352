"""Where the consent screen posts the traveller's answer.

Checks, in order (each failure a page, never a redirect and never a record):
- the form's CSRF token, the pending interaction, the same traveller as when asked;
- every ticked scope and claim was offered on the screen (no scope slipped in), and the
  delegation's box too: a delegation only with its own box ticked (issue 14);
- every required scope is ticked, or the traveller chose Deny."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from consent import delegations, records
from consent.step import decision_from
from idp.accounts.forms import ConfirmForm
from idp.accounts.login import current_login
from idp.accounts.models import User
from idp.errors import error_page
from idp.oauth import interactions
from idp.oauth.authorize import complete, expired_error
from idp.oauth.claims import claims_for_scopes
from idp.oauth.expiry import expired_answer
from idp.oauth.server import query_client

bp = Blueprint("consent", __name__)


class ConsentAnswerError(InvalidRequestError):
    """The answer does not match what was asked."""


@bp.route("/consent/<interaction_id>", methods=["POST"])
def decide(interaction_id: str) -> ResponseReturnValue:
    form = ConfirmForm()
    answer = request.form.get("decision")
    interaction = interactions.get(interaction_id)
    login = current_login()
    if not form.validate_on_submit() or answer not in ("allow", "deny"):
        return error_page(expired_error())
    if interaction is None:
        return expired_answer(interaction_id)  # issue 12: says so, leads back (G3)
    if login is None or interaction.user_id != login.user_id:
        return error_page(expired_error())
    client = query_client(interaction.client_id)
    if client is None or not interaction.shown:
        return error_page(expired_error())
    if answer == "deny":
        return complete(interaction_id, None)
    shown: dict[str, Any] = interaction.shown
    ticked = request.form.getlist("scope")
    ticked_claims = request.form.getlist("claim")
    problem = check_answer(shown, ticked, ticked_claims)
    if problem:
        return error_page(ConsentAnswerError(problem))
    scopes, claims = chosen(shown, ticked, ticked_claims)
    refused = [s for s in shown["offered"] if s not in scopes]
    try:
        delegation = delegated(login.user, shown, request.form)
    except ConsentAnswerError as error:
        return error_page(error)
    record = records.give(login.user, client, login, scopes, claims, refused,
                          shown["purposes"], shown["language"], delegation=delegation)
    requested = client.get_allowed_scope(requested_scope(interaction.params)).split()
    return complete(interaction_id, decision_from(record.scopes_granted, record.claims_granted,
                                                  requested, shown.get("asked")))


def delegated(user: User, shown: dict[str, Any], answer: MultiDict[str, str]
              ) -> dict[str, Any] | None:
    """The delegation agreed to with Allow (issue 14): only with its own box ticked, with
    the resource claims ticked and its own offline box. Left empty, the traveller logs in
    without it (GDPR Art. 7(4): a login is never bought with an optional grant), and its
    other boxes count for nothing, as the screen says. A box not offered is refused."""
    offer = shown.get("delegation")
    ticked = answer.getlist("resource_claim")
    offline = "delegation_offline" in answer
    agreed = set(answer.getlist("delegation"))
    if not set(ticked) <= set(offer["claims"] if offer else []):
        raise ConsentAnswerError("The answer names a claim that was not asked for.")
    if offline and not (offer and offer.get("offline")):
        raise ConsentAnswerError("The answer names a scope or a claim that was not asked for.")
    if not agreed <= ({offer["resource"]} if offer else set()):
        raise ConsentAnswerError("The answer names a delegation that was not asked for.")
    return delegations.new_entry(user, offer, ticked, offline) if offer and agreed else None


def check_answer(shown: dict[str, Any], ticked: list[str], claims: list[str]) -> str | None:
    offered = set(shown["offered"])
    offered_claims = {c for group in shown["claims"].values() for c in group}
    if not set(ticked) <= offered or not set(claims) <= offered_claims:
        return "The answer names a scope or a claim that was not asked for."
    split_ticked = {s for s, group in shown["claims"].items() if set(group) & set(claims)}
    missing = [s for s in shown["required"] if s not in ticked and s not in split_ticked]
    if missing:
        return "A required scope was not accepted: " + " ".join(missing)
    return None


def chosen(shown: dict[str, Any], ticked: list[str],
           ticked_claims: list[str]) -> tuple[list[str], list[str]]:
    """The scopes and claims agreed to. A scope whose claims are ticked one by one counts
    as chosen when at least one of its claims is; one asked claim by claim (the claims
    parameter) gives only the claims ticked."""
    scopes = ["openid"]
    claims = ["sub"]
    one_by_one = set(shown.get("one_by_one", []))
    for scope in shown["offered"]:
        group = shown["claims"].get(scope)
        if group is not None:
            picked = [c for c in group if c in ticked_claims]
            if picked:
                scopes.append(scope)
                claims.extend(picked)
            if picked and scope not in one_by_one:
                # Claims not offered one by one (updated_at) come with the scope.
                claims.extend(c for c in claims_for_scopes([scope]) if c not in group)
        elif scope in ticked:
            scopes.append(scope)
            claims.extend(claims_for_scopes([scope]))
    return scopes, claims


def requested_scope(params: list[tuple[str, str]]) -> str:
    return next((value for key, value in params if key == "scope"), "")
