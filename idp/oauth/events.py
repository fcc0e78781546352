"""Security events pushed to platforms (issue 14, part 4): when a traveller stops a
delegation, the acting platform and the platform whose API it acted on are each told,
with a Security Event Token (RFC 8417) pushed to the ``mob_events_uri`` they registered
(RFC 8935). A platform without one is not told; introspection still answers
``active: false`` for the tokens the delegation ended.

The event is CAEP's token-claims-change (OpenID CAEP 1.0, 3.2): the claims that changed
are the project's ``mob_delegation``, ``{"actor", "resource", "actions", "status":
"stopped"}``. The traveller is named by the platform's own `sub` (``sub_id``, format
``iss_sub``: Shared Signals Framework 1.0); ``aud`` is the platform's client_id. Signed
like logout tokens, with the platform's ID token algorithm and the keys of /jwks.json.

Tokens are queued in the transactional outbox (``idp.outbox``), in the transaction that
stops the delegation; each attempt sends ``idp.signals.security_event_attempted``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from joserfc import jws

from idp import outbox
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.keys import LOGOUT_TOKEN_LIFETIME
from idp.oauth.backchannel import sign
from idp.oauth.models import Client
from idp.oauth.subjects import subject_for
from idp.outbox import OutboxMessage
from idp.signals import security_event_attempted

KIND = "security_event"
TOKEN_TYPE = "secevent+jwt"  # RFC 8417 2.3: cannot be taken for an ID or access token
MEDIA_TYPE = "application/secevent+jwt"  # RFC 8935 2
DELIVERED = (202,)  # RFC 8935 2.2: "202 Accepted"; anything else is retried
TOKEN_CLAIMS_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
DELEGATION_CLAIM = "mob_delegation"
# A retry is signed afresh (same jti, so that the platform can tell it is the same event)
# once the key that signed it may no longer be published (idp.keys keeps a retired key
# published this long).
RESIGN_AFTER = LOGOUT_TOKEN_LIFETIME - 30


@dataclass(frozen=True)
class StoppedDelegation:
    """What ended: ``actor`` may no longer take ``actions`` on ``resource`` (an API of
    ``resource_client_id``) for the traveller."""

    actor: str
    resource: str
    resource_client_id: str
    actions: list[str]


def event_claims(user: User, client: Client, stopped: StoppedDelegation,
                 now: int) -> dict[str, Any]:
    """RFC 8417 2.2 (iss, aud, iat, jti, events) and SSF 1.0's ``sub_id``, with this
    platform's own `sub` for the traveller: never another platform's (OIDC Core 8.1)."""
    issuer = str(current_app.extensions["idp.settings"].issuer)
    return {
        "iss": issuer,
        "aud": client.client_id,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "sub_id": {"format": "iss_sub", "iss": issuer, "sub": subject_for(user, client)},
        "events": {TOKEN_CLAIMS_CHANGE: {
            "event_timestamp": now,
            "initiating_entity": "user",
            "claims": {DELEGATION_CLAIM: {"actor": stopped.actor,
                                          "resource": stopped.resource,
                                          "actions": list(stopped.actions),
                                          "status": "stopped"}},
        }},
    }


def create_event_token(user: User, client: Client, stopped: StoppedDelegation,
                       now: datetime) -> str:
    claims = event_claims(user, client, stopped, int(now.timestamp()))
    return sign(claims, client.id_token_signed_response_alg, TOKEN_TYPE)


def renew_event_token(token: str, now: datetime) -> str:
    """The stored token, or, if its key may be gone from /jwks.json, the same event
    signed afresh with a new iat (and the same jti)."""
    stored = jws.extract_compact(token.encode())  # our own token, read back from our table
    claims = json.loads(stored.payload)
    stamp = int(now.timestamp())
    if stamp - claims["iat"] < RESIGN_AFTER:
        return token
    claims["iat"] = stamp
    return sign(claims, str(stored.protected["alg"]), TOKEN_TYPE)


def platforms_to_tell(stopped: StoppedDelegation) -> Sequence[Client]:
    """The actor and the resource's platform, those of them with an events URI."""
    return db.session.scalars(
        db.select(Client).where(Client.events_uri.is_not(None),
                                Client.client_id.in_([stopped.actor,
                                                      stopped.resource_client_id]))
        .order_by(Client.id)).all()


def notify_delegation_stopped(user: User, stopped: StoppedDelegation) -> list[OutboxMessage]:
    """Queue an event for each platform to tell, in the caller's transaction: committed
    with the stop, never without it."""
    now = utcnow()
    return [outbox.queue(KIND, client.client_id, str(client.events_uri),
                         create_event_token(user, client, stopped, now),
                         subject=user.subject, reason="delegation_stopped", now=now)
            for client in platforms_to_tell(stopped)]


def init_app(app: Flask) -> None:
    outbox.register_kind(app, outbox.Kind(KIND, field=None, signal=security_event_attempted,
                                          renew=renew_event_token, media_type=MEDIA_TYPE,
                                          delivered=DELIVERED))
