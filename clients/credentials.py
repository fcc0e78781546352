"""The two bearer tokens of dynamic registration: the operator's initial access token
(RFC 7591 3) and each client's registration access token (RFC 7592 1.2). Both are
random and long, so only their SHA-256 is stored and compared in constant time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, update

from clients.models import InitialAccessToken
from idp.digests import check_digest, digest, generate_secret
from idp.extensions import db, utcnow
from idp.oauth.models import Client

# Compared against when no client matches, so an unknown client_id costs the same.
NO_DIGEST = digest("no registration access token")


def issue_initial_access_token(expires_in: int, uses: int) -> tuple[InitialAccessToken, str]:
    """A new token, returned once; only its digest is kept."""
    token = generate_secret(32)
    row = InitialAccessToken(token_hash=digest(token), uses_left=uses,
                             expires_at=utcnow() + timedelta(seconds=expires_in))
    db.session.add(row)
    db.session.commit()
    return row, token


def live_initial_access_token(token: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a token that can still register a platform."""
    return (InitialAccessToken.token_hash == digest(token), InitialAccessToken.uses_left > 0,
            InitialAccessToken.expires_at > utcnow())


def check_initial_access_token(token: str) -> bool:
    """True if the token is live now; a plain read that locks nothing. Spending a use
    comes later (``spend_initial_access_token``), after the slow checks."""
    found = db.session.scalar(db.select(InitialAccessToken.id)
                              .where(*live_initial_access_token(token)))
    return found is not None


def spend_initial_access_token(token: str) -> int | None:
    """Take one use of a live token, in the caller's transaction; returns its id, or None
    when it is unknown, expired or used up. One conditional UPDATE, so two registrations
    racing for the last use cannot both win; a rollback gives the use back."""
    statement = (
        update(InitialAccessToken)
        .where(*live_initial_access_token(token))
        .values(uses_left=InitialAccessToken.uses_left - 1)
        .returning(InitialAccessToken.id)
        .execution_options(synchronize_session=False)
    )
    token_id: int | None = db.session.execute(statement).scalar_one_or_none()
    return token_id


def issue_registration_token(client: Client) -> str:
    """A new registration access token for ``client``; any previous one stops working."""
    token = generate_secret(32)
    client.registration_access_token_hash = digest(token)
    return token


def check_registration_token(client: Client | None, token: str) -> bool:
    """True only for the token issued to this very client (RFC 7592 3)."""
    expected = client.registration_access_token_hash if client is not None else None
    matches = check_digest(token, expected or NO_DIGEST)
    return matches and expected is not None
