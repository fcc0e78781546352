"""The traveller and their browser sessions."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db, utcnow
from idp.types import UTCDateTime


def new_subject() -> str:
    # The public subject is random, never the row id, so it reveals nothing about sign-up order.
    return secrets.token_urlsafe(24)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True, default=new_subject)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str] = mapped_column(String(255))
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    nickname: Mapped[str | None] = mapped_column(String(100))
    gender: Mapped[str | None] = mapped_column(String(32))
    birthdate: Mapped[date | None] = mapped_column(Date)
    locale: Mapped[str | None] = mapped_column(String(16))
    # E.164 once saved (``idp.accounts.phones``); indexed for recovery by SMS.
    phone_number: Mapped[str | None] = mapped_column(String(32), index=True)
    phone_number_verified: Mapped[bool] = mapped_column(default=False)
    street_address: Mapped[str | None] = mapped_column(String(200))
    locality: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(60))
    picture: Mapped[str | None] = mapped_column(String(500))
    # The mobility claims of shared/SCOPES.md (mob_*), keyed by claim name. Verified
    # claims inside it are set by the provider or an operator, never by the traveller.
    mobility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # None while a sign-up waits for its address to be confirmed: such an account cannot
    # sign in, and ``idp users prune`` removes it once its link has expired.
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list[BrowserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def get_user_id(self) -> int:
        return self.id

    @property
    def is_pending(self) -> bool:
        """Signed up, but the address is not confirmed yet."""
        return self.activated_at is None

    @property
    def display_name(self) -> str:
        names = " ".join(n for n in (self.given_name, self.family_name) if n)
        return names or self.email


class BrowserSession(db.Model):  # type: ignore[name-defined,misc]
    """A signed-in browser. The cookie holds a random key; we store only its SHA-256."""

    __tablename__ = "browser_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The public session id, released to platforms as the `sid` claim.
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed for ``idp sessions prune``, which ends sessions past either limit.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_agent: Mapped[str | None] = mapped_column(String(255))
    # The network the browser came from, IPv4 /24 or IPv6 /48: enough for the traveller
    # to recognise a place, never the full address (data minimisation, GDPR 5.1.c).
    ip_prefix: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(back_populates="sessions")
