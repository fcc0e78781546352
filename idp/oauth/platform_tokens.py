"""Platform tokens: access tokens a platform holds for itself, issued by the client
credentials grant (RFC 6749 4.4), with no traveller behind them.

They live in their own table, apart from ``Token``: every ``Token`` row belongs to a
traveller, and what reads it (userinfo, "My platforms", the data export, revocation on
withdrawal, back-channel logout) can count on that. A platform token is found only by
the endpoints that accept it (introspection, revocation, ``/consent/records``); userinfo
does not know it, so it answers ``invalid_token``. Only its digest is stored."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6750 import BearerTokenValidator
from sqlalchemy import CursorResult, ForeignKey, String, Text, delete
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.digests import digest
from idp.direct_sql import Columns, EntityRead
from idp.extensions import db, utcnow
from idp.oauth.models import TOKEN_HASH, Client, IssuedToken
from idp.types import UTCDateTime

GRANT_TYPE = "client_credentials"
# Platform-level scopes: what a platform may do as itself, never a traveller's data.
# They are kept apart from the scope catalogue (idp.oauth.claims, consent.scopes), which
# lists what a traveller consents to: a platform scope is never shown on a consent
# screen, never asked at /authorize and never releases a claim. Each one may only reach
# what the platform could already reach with its own credentials; a later scope that
# reaches another party (another platform's API) must be granted per client.
PLATFORM_SCOPES: dict[str, str] = {
    "consent:read": "Read the platform's own consent records at /consent/records.",
}


class PlatformToken(db.Model, IssuedToken):  # type: ignore[name-defined,misc]
    """An access token of a platform for itself: no refresh token, no traveller."""

    __tablename__ = "platform_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("client.client_id", ondelete="CASCADE"), index=True
    )
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_in: Mapped[int] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[Client] = relationship()


    def get_user(self) -> None:
        return None

    def get_client(self) -> Client:
        return self.client


def query_platform_token(token_string: str) -> PlatformToken | None:
    return find_platform_token(digest(token_string))


def find_platform_token(presented_digest: str) -> PlatformToken | None:
    """The platform token with this digest, with its platform in the same query."""
    return platform_token_read().entity({"token_hash": presented_digest})


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def platform_token_read() -> EntityRead[PlatformToken]:
    return EntityRead(Columns(PlatformToken), PlatformToken.access_token_hash == TOKEN_HASH,
                      joined={"client": Columns(Client)})


def prune_expired() -> int:
    """Delete the platform tokens past their lifetime (``idp sessions prune``); the number
    deleted. One DELETE per lifetime in use (they are few: the setting, or what the grant
    asked), which needs no date arithmetic in SQL, where SQLite and PostgreSQL differ."""
    now = utcnow()
    removed = 0
    for lifetime in db.session.scalars(db.select(PlatformToken.expires_in).distinct()).all():
        result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
            delete(PlatformToken).where(
                PlatformToken.expires_in == lifetime,
                PlatformToken.issued_at <= now - timedelta(seconds=lifetime))
            .execution_options(synchronize_session=False))
        removed += result.rowcount
    db.session.commit()
    return removed


class PlatformTokenValidator(BearerTokenValidator):
    """Bearer platform tokens (RFC 6750) at the platforms' own endpoints. A traveller's
    token is not one; a platform that no longer has the grant loses its tokens at once."""

    def authenticate_token(self, token_string: str) -> PlatformToken | None:
        token = query_platform_token(token_string)
        if token is None or not token.client.check_grant_type(GRANT_TYPE):
            return None
        return token
