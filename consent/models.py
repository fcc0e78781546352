"""What each traveller has agreed to share with each platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db, utcnow
from idp.types import UTCDateTime


class ConsentGrant(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "consent_grant"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("client.client_id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def covers(self, scopes: list[str]) -> bool:
        return set(scopes) <= set(self.scopes)


def find_grant(user_id: int, client_id: str) -> ConsentGrant | None:
    return db.session.scalar(
        db.select(ConsentGrant).where(
            ConsentGrant.user_id == user_id, ConsentGrant.client_id == client_id
        )
    )


def record_grant(user_id: int, client_id: str, scopes: list[str]) -> ConsentGrant:
    """Add the scopes to the traveller's grant for this platform (not committed: the
    authorization code commits it, so a failed authorization leaves no record)."""
    grant = find_grant(user_id, client_id)
    if grant is None:
        grant = ConsentGrant(user_id=user_id, client_id=client_id, scopes=[])
        db.session.add(grant)
    grant.scopes = sorted(set(grant.scopes) | set(scopes))
    return grant
