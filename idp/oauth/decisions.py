"""What the authorize view hands to the consent step, and what it gets back.

The consent step lives outside ``idp`` (in ``consent``) and registers itself with
:func:`register_consent_step`. It answers either with a page to show or with a
:class:`Decision`; only a decision reaches Authlib's ``create_authorization_response``."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app
from flask.typing import ResponseReturnValue
from sqlalchemy import Select

from idp.accounts.models import BrowserSession, User
from idp.oauth.claims_request import ClaimsRequest
from idp.oauth.models import Client
from idp.oauth.resources import ResourceRequest

# The columns ``join_in_force`` adds, as read from a row (the step's own business).
InForce = tuple[Any, ...]


@dataclass(frozen=True)
class AuthorizationContext:
    interaction_id: str | None
    user: User
    client: Client
    login: BrowserSession
    scopes: list[str]  # requested and allowed for this client, in request order
    prompts: frozenset[str]
    # The ``claims`` parameter as parsed (OIDC Core 5.5): claims asked one by one.
    claims_request: ClaimsRequest | None = None
    # RFC 8707: another platform's API this platform asks to act on, and the actions.
    resource_request: ResourceRequest | None = None


@dataclass(frozen=True)
class DelegationGrant:
    """A delegation in force (issue 14): the actions this platform may take on the
    resource's API for the traveller, and the claims released to the API's platform."""

    resource: str
    actions: list[str]
    claims: list[str]
    valid_until: datetime
    offline_access: bool = False


@dataclass(frozen=True)
class Decision:
    scopes: list[str]
    # The claims the traveller agreed to release: of those scopes, and those asked one by
    # one with the claims parameter.
    claims: list[str]
    # Those of ``claims`` that may travel inside an ID token (none of a sensitive scope).
    id_token_claims: list[str] = field(default_factory=list)


class ConsentStep(Hashable, Protocol):
    def decide(self, context: AuthorizationContext) -> Decision | None:
        """A decision already on record that covers this request, or None."""

    def page(self, context: AuthorizationContext) -> ResponseReturnValue:
        """The page that asks the traveller."""

    def released_claims(self, user: User, client: Client,
                        in_force: InForce | None = None) -> set[str]:
        """The claims the traveller lets this platform read right now (checked at every
        userinfo call, so a withdrawal takes effect at once). ``in_force`` is what
        :meth:`join_in_force` read along with the token, when it did."""

    def released_in_force(self, in_force: InForce) -> set[str] | None:
        """The same from ``in_force`` alone, without the database and outside any request;
        None when only :meth:`released_claims` can tell (a consent that has just lapsed,
        whose end it records)."""

    def join_in_force(self, query: Select[Any]) -> Select[Any]:
        """``query`` (over Token) with the consent in force for the token's traveller and
        platform joined in, its columns added last: userinfo reads both in one round
        trip."""

    def delegation(self, user: User, client: Client, resource: str) -> DelegationGrant | None:
        """The delegation in force that lets ``client`` act on ``resource`` for the
        traveller, or None (checked at every token exchange)."""


def register_consent_step(app: Flask, step: ConsentStep) -> None:
    app.extensions["idp.consent_step"] = step


def consent_step() -> ConsentStep:
    step: ConsentStep = current_app.extensions["idp.consent_step"]
    return step
