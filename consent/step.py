"""The consent step of the authorize pipeline: a decision on record, or the screen."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from consent import records
from consent.scopes import describe
from consent.screen import CLAIM_LABELS, build_lines, shown_record
from idp.accounts.forms import ConfirmForm
from idp.accounts.models import User
from idp.oauth import interactions
from idp.oauth.claims import claims_for_scopes
from idp.oauth.decisions import AuthorizationContext, Decision
from idp.oauth.models import Client


class ConsentScreen:
    def decide(self, context: AuthorizationContext) -> Decision | None:
        """A decision on record covers the request when every scope asked for was answered
        before (granted or refused), none is special-category data (asked every time), and
        the consent has not expired."""
        if any(describe(s).special for s in context.scopes):
            return None
        record = records.current(context.user.id, context.client.client_id)
        if record is None:
            return None
        answered = {"openid", *record.scopes_granted, *record.scopes_refused}
        if not set(context.scopes) <= answered:
            return None
        return decision_from(record.scopes_granted, record.claims_granted, context.scopes)

    def page(self, context: AuthorizationContext) -> ResponseReturnValue:
        record = records.current(context.user.id, context.client.client_id)
        answered = set()
        if record is not None and "consent" not in context.prompts:
            answered = {*record.scopes_granted, *record.scopes_refused}
        asked = [s for s in context.scopes if s not in answered or describe(s).special]
        lines = build_lines(context.user, context.client, asked)
        already = [describe(s) for s in context.scopes
                   if record and s in record.scopes_granted and s not in asked and s != "openid"]
        assert context.interaction_id is not None
        interaction = interactions.get(context.interaction_id)
        if interaction is not None:
            interaction.shown = shown_record(lines)
            interactions.update(interaction)
        return render_template(
            "consent/consent.html", form=ConfirmForm(), client=context.client,
            user=context.user, lines=lines, already=already,
            interaction=context.interaction_id, record=record, claim_labels=CLAIM_LABELS,
        )

    def released_claims(self, user: User, client: Client) -> set[str]:
        return records.released_claims(user, client)


def decision_from(granted: list[str], claims: list[str], requested: list[str]) -> Decision:
    scopes = [s for s in requested if s == "openid" or s in granted]
    allowed = set(claims_for_scopes(scopes))
    kept = [c for c in claims if c in allowed]
    # shared/SCOPES.md: sensitive scopes are released by userinfo only, never in an ID token.
    plain = set(claims_for_scopes([s for s in scopes if not describe(s).sensitive]))
    return Decision(scopes=scopes, claims=kept, id_token_claims=[c for c in kept if c in plain])
