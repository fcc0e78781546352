"""OpenID Connect Back-Channel Logout 1.0: the logout token, and which platforms learn
that a traveller's session, or their whole relationship with a platform, has ended.

Tokens are queued in the transactional outbox (``idp.outbox``) and delivered from there;
each attempt sends ``idp.signals.backchannel_attempted``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from joserfc import jws, jwt
from sqlalchemy import or_

from idp import outbox
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.keys import LOGOUT_TOKEN_LIFETIME, key_store
from idp.oauth.claims import subject_for
from idp.oauth.models import AuthorizationCode, Client, Token
from idp.outbox import OutboxMessage
from idp.signals import backchannel_attempted

KIND = "backchannel_logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"  # section 2.4, so it cannot be taken for an ID token
# Seconds: a logout token is used at once (section 2.4 recommends short). Key rotation
# keeps a retired key published at least this long.
LIFETIME = LOGOUT_TOKEN_LIFETIME
RENEW_MARGIN = 30  # sign afresh a stored token that would expire this soon


def logout_claims(user: User, client: Client, sid: str | None, now: int) -> dict[str, Any]:
    """Section 2.4: iss, aud, iat, exp, jti, events, and sub and/or sid. Never a nonce
    (prohibited there, so that a logout token cannot pass for an ID token)."""
    claims: dict[str, Any] = {
        "iss": current_app.extensions["idp.settings"].issuer,
        "aud": [client.client_id],
        "iat": now,
        "exp": now + LIFETIME,
        "jti": secrets.token_urlsafe(16),
        "events": {EVENT: {}},
        # Always the sub: without a sid, all the traveller's sessions at the platform end.
        "sub": subject_for(user, client),
    }
    if sid is not None:
        claims["sid"] = sid
    return claims


def sign(claims: dict[str, Any], alg: str, typ: str = TOKEN_TYPE) -> str:
    """Signed with the provider's current key for ``alg``; ``typ`` tells the kind of
    token (a logout token, or a security event token: idp.oauth.events)."""
    key = key_store().signing_key(alg)
    header = {"alg": alg, "kid": str(key.kid), "typ": typ}
    return jwt.encode(header, claims, key, algorithms=[alg])


def create_logout_token(user: User, client: Client, sid: str | None = None,
                        now: datetime | None = None) -> str:
    """A logout token for the platform, signed with its ID token algorithm."""
    stamp = int((now or utcnow()).timestamp())
    return sign(logout_claims(user, client, sid, stamp), client.id_token_signed_response_alg)


def renew_logout_token(token: str, now: datetime) -> str:
    """The stored token, or, if it would arrive expired, the same statement signed afresh
    with new iat, exp and jti: a retry an hour later must still be acceptable."""
    stored = jws.extract_compact(token.encode())  # our own token, read back from our table
    claims = json.loads(stored.payload)
    stamp = int(now.timestamp())
    if claims["exp"] - RENEW_MARGIN > stamp:
        return token
    claims.update(iat=stamp, exp=stamp + LIFETIME, jti=secrets.token_urlsafe(16))
    return sign(claims, str(stored.protected["alg"]))


def platforms_to_tell(user: User, client_ids: Iterable[str] | None = None,
                      sid: str | None = None) -> Sequence[Client]:
    """Platforms with a back-channel logout URI that the traveller has used (a code or a
    token exists), or, for a sid, that received an ID token carrying it. One query."""
    tokens = db.select(Token.client_id).where(Token.user_id == user.id)
    codes = db.select(AuthorizationCode.client_id).where(AuthorizationCode.user_id == user.id)
    if sid is not None:
        tokens = tokens.where(Token.sid == sid)
        codes = codes.where(AuthorizationCode.sid == sid)
    query = db.select(Client).where(
        Client.backchannel_logout_uri.is_not(None),
        or_(Client.client_id.in_(tokens), Client.client_id.in_(codes)),
    )
    if client_ids is not None:
        query = query.where(Client.client_id.in_(list(client_ids)))
    return db.session.scalars(query.order_by(Client.id)).all()


def notify_logout(user: User, *, client_ids: Iterable[str] | None = None,
                  sid: str | None = None, reason: str) -> list[OutboxMessage]:
    """Queue a logout token for each platform to tell, in the caller's transaction: the
    messages are committed with the change that causes them (a logout, a revocation, an
    account deletion), never without it. ``sid`` ends that browser session only;
    without it, every session of the traveller at the platforms ends. ``reason`` is a
    short tag (``"logout"``, ``"consent_revoked"``, ``"account_deleted"``) for the audit log."""
    now = utcnow()
    messages = []
    for client in platforms_to_tell(user, client_ids, sid):
        token = create_logout_token(user, client, sid, now)
        messages.append(outbox.queue(KIND, client.client_id, str(client.backchannel_logout_uri),
                                     token, subject=user.subject, reason=reason, now=now))
    return messages


def init_app(app: Flask) -> None:
    outbox.register_kind(app, outbox.Kind(KIND, field="logout_token",
                                          signal=backchannel_attempted,
                                          renew=renew_logout_token))
