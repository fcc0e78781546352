"""Token exchange (RFC 8693) for delegation (issue 14): a platform (the actor) trades the
traveller's access token it holds for a short-lived RFC 9068 JWT meant for another
platform's API, within a delegation the traveller agreed to and that is in force.

The token answered names the API as ``aud``, the actor in ``act`` (RFC 8693 4.1) and in
``client_id``, and the traveller by the ``sub`` of the API's platform (its pairwise
sector, never the actor's: OIDC Core 8.1). It is stored by digest like every token,
so it can be revoked, and introspection answers for it at once.

A refresh token comes with it only when the actor asks ``offline_access`` and the
traveller granted offline_access with the delegation (issue 14, part 3); it rotates like
every refresh token and gives again a short-lived token for the same API, while the
delegation is in force (:func:`refresh_exchanged`)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    grants,
    scope_to_list,
)
from flask import current_app

from idp.digests import digest, generate_secret
from idp.extensions import db, utcnow
from idp.oauth.access_tokens import sign
from idp.oauth.claims import user_claims
from idp.oauth.decisions import DelegationGrant, consent_step
from idp.oauth.dpop import bound_key
from idp.oauth.grants import CLIENT_AUTH_METHODS
from idp.oauth.models import Client, Token, find_token_by, refresh_token_lifetime
from idp.oauth.resources import InvalidTargetError, Resource, query_resource
from idp.oauth.subjects import subject_for

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# Short: the actor exchanges again when it needs to, and each exchange checks the
# delegation anew.
LIFETIME = 300
MAX_TOKEN_LENGTH = 4096
OFFLINE = "offline_access"


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        # Checks, in order: the actor authenticates, is confidential and registered the
        # grant; the token types are ours (2.1); the resource is known (RFC 8707); the
        # subject token is a live access token of this actor; the traveller's delegation
        # is in force and covers the actions asked.
        client: Client = self.authenticate_token_endpoint_client()
        if client.is_public or not client.check_grant_type(GRANT_TYPE):
            raise UnauthorizedClientError("The client is not registered for token exchange.")
        self.request.client = client
        data = self.request.payload.data
        validate_token_types(data)
        resource = target_resource(self.request.payload.datalist, client)
        subject = subject_token(data.get("subject_token"), client)
        delegation = consent_step().delegation(subject.user, client, resource.uri)
        if delegation is None:
            raise AccessDeniedError("The traveller has not allowed this platform to act "
                                    "on this resource.")
        self.request.user = subject.user
        asked = scope_to_list(self.request.payload.scope or "")
        actions = granted_actions(" ".join(a for a in asked if a != OFFLINE), delegation)
        self.request.exchange = Exchange(subject, resource, delegation, actions,
                                         offline=OFFLINE in asked and may_refresh(
                                             client, delegation))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        exchange: Exchange = self.request.exchange
        token = exchange.issue(self.request.client)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class Exchange:
    """A checked exchange: the subject token, the resource and the delegation."""

    def __init__(self, subject: Token, resource: Resource, delegation: DelegationGrant,
                 actions: list[str], offline: bool = False) -> None:
        self.subject = subject
        self.resource = resource
        self.delegation = delegation
        self.actions = actions
        self.offline = offline  # with a refresh token

    def claims(self, actor: Client) -> dict[str, Any]:
        """RFC 9068 2.2 with RFC 8693 4.1's ``act``; the identity claims released to the
        resource's platform (RFC 9068 2.2.2), nothing else."""
        now = int(time.time())
        user = self.subject.user
        identity = user_claims(user, self.resource.client, [], self.delegation.claims,
                               asked=self.delegation.claims)
        identity.pop("sub", None)
        return {
            **identity,
            "iss": issuer(),
            "exp": now + LIFETIME,
            "aud": self.resource.uri,
            "sub": subject_for(user, self.resource.client),
            "client_id": actor.client_id,
            "act": {"sub": actor.client_id},
            "iat": now,
            "jti": generate_secret(16),
            "scope": " ".join(self.actions),
            "auth_time": int(self.subject.auth_time.timestamp()),
            **({"acr": self.subject.acr} if self.subject.acr else {}),
            **({"amr": list(self.subject.amr)} if self.subject.amr else {}),
        }

    def issue(self, actor: Client) -> dict[str, Any]:
        claims = self.claims(actor)
        jkt = bound_key()
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}  # RFC 9449 6.1
        # Signed with the algorithm the resource's platform verifies its tokens with.
        access_token = sign(self.resource.client, claims)
        refresh_token = generate_secret(32) if self.offline else None
        self.save(actor, access_token, refresh_token, jkt)
        # Ids only: never the tokens.
        current_app.logger.info("token exchanged: %s for %s", actor.client_id,
                                self.resource.client_id)
        answer = {"access_token": access_token, "issued_token_type": ACCESS_TOKEN_TYPE,
                  "token_type": "DPoP" if jkt else "Bearer", "expires_in": LIFETIME,
                  "scope": " ".join(self.actions)}
        if refresh_token is not None:
            answer.update(refresh_token=refresh_token, scope=f"{answer['scope']} {OFFLINE}")
        return answer

    def save(self, actor: Client, access_token: str, refresh_token: str | None,
             jkt: str | None) -> None:
        """Stored like every token, in the subject token's family: a replayed code or
        a withdrawn consent revokes it with the rest. A rotated refresh token keeps the
        absolute lifetime of the first one."""
        subject = self.subject
        row = Token(
            client_id=actor.client_id, user_id=subject.user_id,
            access_token_hash=digest(access_token), scope=" ".join(self.actions),
            expires_in=LIFETIME, auth_time=subject.auth_time, acr=subject.acr,
            amr=list(subject.amr), sid=subject.sid, claims=list(self.delegation.claims),
            authorization_code_id=subject.authorization_code_id, dpop_jkt=jkt,
            audience=self.resource.uri,
        )
        if refresh_token is not None:
            row.refresh_token_hash = digest(refresh_token)
            row.refresh_token_expires_at = (
                subject.refresh_token_expires_at if subject.audience is not None
                else utcnow() + timedelta(seconds=refresh_token_lifetime(actor)))
        db.session.add(row)
        db.session.commit()


def may_refresh(actor: Client, delegation: DelegationGrant) -> bool:
    """Issue 14, part 3: a refresh token only with offline_access granted for the
    delegation, and to an actor registered for refresh tokens."""
    return delegation.offline_access and actor.check_grant_type("refresh_token")


def validate_refresh(old: Token, actor: Client) -> Exchange:
    """Before an exchanged token's refresh token is spent: the delegation must still be
    in force, with offline_access. Raises ``invalid_grant`` otherwise."""
    resource = query_resource(old.audience)
    delegation = (consent_step().delegation(old.user, actor, resource.uri)
                  if resource is not None else None)
    if resource is None or delegation is None or not may_refresh(actor, delegation):
        raise InvalidGrantError("The traveller's delegation for this resource has ended.")
    actions = [a for a in scope_to_list(old.scope) if a in delegation.actions]
    return Exchange(old, resource, delegation, actions, offline=True)


def validate_token_types(data: Any) -> None:
    """RFC 8693 2.1: subject_token and its type are required; we exchange access tokens
    for access tokens, and the actor is the authenticated client (no actor_token)."""
    if not data.get("subject_token"):
        raise InvalidRequestError("'subject_token' is required.")
    if data.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"'subject_token_type' must be {ACCESS_TOKEN_TYPE}.")
    if data.get("requested_token_type") not in (None, ACCESS_TOKEN_TYPE):
        raise InvalidRequestError(f"'requested_token_type' must be {ACCESS_TOKEN_TYPE}.")
    if data.get("actor_token") or data.get("actor_token_type"):
        raise InvalidRequestError("'actor_token' is not supported: the authenticated "
                                  "client is the actor.")


def target_resource(datalist: Any, actor: Client) -> Resource:
    """The one API named by ``resource`` and/or ``audience`` (RFC 8693 2.1, RFC 8707 2):
    both, when sent, must name the same registered resource URI."""
    named = set(datalist.get("resource", [])) | set(datalist.get("audience", []))
    if not named:
        raise InvalidTargetError("Name the resource: 'resource' or 'audience'.")
    if len(named) > 1:
        raise InvalidTargetError("Name one resource per request.")
    resource = query_resource(named.pop())
    if resource is None or resource.client_id == actor.client_id:
        raise InvalidTargetError("This resource is not registered for an exchange.")
    return resource


def subject_token(value: str | None, actor: Client) -> Token:
    """A live access token the actor holds for itself: not expired, not revoked, not
    another platform's, and not an exchanged one (no chains of delegation)."""
    row = None
    if value and len(value) <= MAX_TOKEN_LENGTH:
        row = find_token_by("access_token_hash", digest(value))
    if row is None or row.client_id != actor.client_id or row.audience is not None:
        raise InvalidGrantError("The subject token is not an access token of this client.")
    if row.is_revoked() or row.is_expired():
        raise InvalidGrantError("The subject token has expired or was revoked.")
    return row


def granted_actions(scope: str | None, delegation: DelegationGrant) -> list[str]:
    """The actions asked, each allowed by the traveller; none asked: all allowed."""
    asked = list(dict.fromkeys(scope_to_list(scope or "")))
    if not asked:
        return list(delegation.actions)
    refused = [a for a in asked if a not in delegation.actions]
    if refused:
        raise InvalidScopeError("The traveller has not allowed: " + " ".join(refused))
    return asked


def issuer() -> str:
    return str(current_app.extensions["idp.settings"].issuer)
