"""The consent step of the authorize pipeline: a decision on record, or the screen."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from consent.models import find_grant
from consent.scopes import describe, preview
from idp.accounts.forms import ConfirmForm as ConsentForm
from idp.oauth.decisions import AuthorizationContext, Decision


class ConsentScreen:
    def decide(self, context: AuthorizationContext) -> Decision | None:
        """The same scopes are not asked again once granted."""
        grant = find_grant(context.user.id, context.client.client_id)
        if grant is not None and grant.covers(context.scopes):
            return Decision(scopes=list(context.scopes))
        return None

    def page(self, context: AuthorizationContext) -> ResponseReturnValue:
        grant = find_grant(context.user.id, context.client.client_id)
        already = set(grant.scopes) if grant else set()
        lines = [
            {"scope": describe(s), "shared": preview(context.user, s), "new": s not in already}
            for s in context.scopes
        ]
        return render_template(
            "consent/consent.html",
            form=ConsentForm(),
            client=context.client,
            user=context.user,
            lines=lines,
            interaction=context.interaction_id,
        )
