"""The consent step of the authorize pipeline: a decision on record, or the screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import Select

from consent import delegations, records
from consent.asked import asked_claims
from consent.models import ConsentRecord
from consent.scopes import describe
from consent.screen import (
    CLAIM_LABELS,
    boxed_claims,
    build_claim_lines,
    build_lines,
    shown_record,
)
from idp.accounts.forms import ConfirmForm
from idp.accounts.models import User
from idp.oauth import interactions
from idp.oauth.claims import claims_for_scopes, scope_of
from idp.oauth.decisions import AuthorizationContext, Decision, DelegationGrant, InForce
from idp.oauth.models import Client


class ConsentScreen:
    def decide(self, context: AuthorizationContext) -> Decision | None:
        """A decision on record covers the request when every scope asked for as a whole,
        and every claim asked one by one, was answered before (granted or refused), none
        is special-category data (asked every time), and the consent has not expired."""
        asked = asked_claims(context.client, context.claims_request, context.scopes)
        if any(describe(s).special for s in [*context.scopes, *asked.by_scope]):
            return None
        record = records.current(context.user.id, context.client.client_id)
        if record is None:
            return None
        wanted = context.resource_request
        if wanted is not None and not delegations.covers(record, wanted):
            return None
        scopes, claims = unanswered(record, context.scopes, asked.by_scope)
        if scopes or claims:
            return None
        return decision_from(record.scopes_granted, record.claims_granted, context.scopes,
                             asked.by_scope)

    def page(self, context: AuthorizationContext) -> ResponseReturnValue:
        record = records.current(context.user.id, context.client.client_id)
        asked = asked_claims(context.client, context.claims_request, context.scopes)
        scopes, claims = context.scopes, asked.by_scope
        if record is not None and "consent" not in context.prompts:
            scopes, claims = unanswered(record, context.scopes, asked.by_scope)
        lines = build_lines(context.user, context.client, scopes, asked.essential)
        lines += build_claim_lines(context.user, context.client, claims, asked.essential)
        shown = {line.scope.name for line in lines}
        already = [describe(s) for s in [*context.scopes, *asked.by_scope]
                   if record and s in record.scopes_granted and s not in shown
                   and s != "openid"]
        offer = None
        if context.resource_request is not None:
            offer = delegations.make_offer(context.client, context.user,
                                           context.resource_request,
                                           offline="offline_access" in context.scopes)
        assert context.interaction_id is not None
        interaction = interactions.get(context.interaction_id)
        if interaction is not None:
            interaction.shown = shown_record(lines, asked.by_scope)
            if offer is not None:
                interaction.shown["delegation"] = offer.shown()
                interaction.shown["purposes"].append(offer.purpose())
            interactions.update(interaction)
        return render_template(
            "consent/consent.html", form=ConfirmForm(), client=context.client,
            user=context.user, lines=lines, already=already,
            interaction=context.interaction_id, record=record, claim_labels=CLAIM_LABELS,
            delegation=offer,
            # No account menu mid-flow: it would push Allow and Deny off a phone's first
            # screen, and leaving here drops the platform's request (issue 12, item 5).
            menu_items=[],
        )

    def released_claims(self, user: User, client: Client,
                        in_force: InForce | None = None) -> set[str]:
        return records.released_claims(user, client, in_force)

    def released_in_force(self, in_force: InForce) -> set[str] | None:
        return records.released_in_force(in_force)

    def join_in_force(self, query: Select[Any]) -> Select[Any]:
        return records.join_in_force(query)

    def delegation(self, user: User, client: Client, resource: str) -> DelegationGrant | None:
        return delegations.in_force(user, client, resource)


def unanswered(record: ConsentRecord, scopes: list[str],
               by_scope: dict[str, list[str]]) -> tuple[list[str], dict[str, list[str]]]:
    """What to ask now: scopes and claims the record does not answer, and health data
    every time (shared/SCOPES.md)."""
    ask_scopes = [s for s in scopes
                  if s != "openid" and (describe(s).special or not check_whole(record, s))]
    ask_claims = {}
    for scope, names in by_scope.items():
        special = describe(scope).special
        if not special and check_whole(record, scope):
            continue
        missing = [c for c in names if special or c not in record.claims_granted]
        if missing:
            ask_claims[scope] = missing
    return ask_scopes, ask_claims


def check_whole(record: ConsentRecord, scope: str) -> bool:
    """Whether the record answers the scope as a whole: refused, or granted with every
    claim that comes with the scope whatever the boxes ticked. A scope granted only claim
    by claim (the claims parameter) lacks some, and is asked again when asked whole."""
    if scope in record.scopes_refused:
        return True
    if scope not in record.scopes_granted:
        return False
    comes_with = set(claims_for_scopes([scope])) - set(boxed_claims(scope))
    return comes_with <= set(record.claims_granted)


def decision_from(granted: list[str], claims: list[str], requested: list[str],
                  asked: Mapping[str, Sequence[str]] | None = None) -> Decision:
    """What the platform receives: the requested scopes granted, with their claims the
    traveller kept, and the claims asked one by one (``asked``, by scope) that the
    traveller released."""
    scopes = [s for s in requested if s == "openid" or s in granted]
    offered = set(claims_for_scopes(scopes))
    offered |= {c for scope, names in (asked or {}).items() if scope in granted for c in names}
    kept = [c for c in claims if c in offered]
    # shared/SCOPES.md: sensitive scopes are released by userinfo only, never in an ID token.
    plain = [c for c in kept if not describe(scope_of(c) or "").sensitive]
    return Decision(scopes=scopes, claims=kept, id_token_claims=plain)
