"""Mobility advisors and the mandates travellers give them (issue 12, after the Aidants
Connect model).

An advisor is never a traveller and never an OpenID Connect subject: their own table,
their own sign-in (password and a required authenticator), their own session rows. They
act for a traveller only under a ``Mandate`` the traveller confirmed (a code by SMS, or
a code on a signed paper), for the actions and platforms it names, until it expires
(12 months at most) or someone revokes it."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.accounts.models import User
from idp.advisors.assistance import COLLECTION_METHODS
from idp.extensions import db, utcnow
from idp.types import UTCDateTime

ADVISOR, OPERATOR = "advisor", "operator"
ROLES = (ADVISOR, OPERATOR)
# What a mandate may allow, in the order pages list them.
CREATE_ACCOUNT, CONSENT, UPDATE_DETAILS, READ_HISTORY = (
    "create_account", "consent", "update_details", "read_history")
ACTIONS = (CREATE_ACCOUNT, CONSENT, UPDATE_DETAILS, READ_HISTORY)
METHODS = COLLECTION_METHODS  # in person or on the phone
SMS, PAPER = "sms", "paper"
CONFIRMATIONS = (SMS, PAPER)
DURATIONS = (1, 3, 6, 12)  # months the advisor may pick; never more than 12
REVOKERS = ("traveller", "advisor", "operator")


def new_public_id() -> str:
    return "adv_" + secrets.token_hex(8)


def new_mandate_id() -> str:
    return str(uuid.uuid4())


class Advisor(db.Model):  # type: ignore[name-defined,misc]
    """A mobility advisor (or an operator, who also manages advisors)."""

    __tablename__ = "advisor"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Pseudonymous: what consent records and the audit log keep (Assistance.advisor_id).
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    centre: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=ADVISOR)
    # None until the advisor chooses one through their set-up link.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The one-time set-up link (its SHA-256 only) and when it lapses.
    setup_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The authenticator, encrypted as the travellers' one is (idp.accounts.mfa); required.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last time step accepted: a code of this step or an earlier one is a replay.
    totp_last_used_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR

    @property
    def is_ready(self) -> bool:
        """Set up: a password and a confirmed authenticator, and not revoked."""
        return (self.revoked_at is None and self.password_hash is not None
                and self.totp_confirmed_at is not None)


class AdvisorSession(db.Model):  # type: ignore[name-defined,misc]
    """An advisor's signed-in browser: a random key in its own cookie, its digest here.
    ``verified_at`` is set once the authenticator code is right: before that, the row only
    says that the password was."""

    __tablename__ = "advisor_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    advisor_id: Mapped[int] = mapped_column(
        ForeignKey("advisor.id", ondelete="CASCADE"), index=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    advisor: Mapped[Advisor] = relationship()


class Mandate(db.Model):  # type: ignore[name-defined,misc]
    """A traveller's permission for one advisor to do the named actions for them."""

    __tablename__ = "mandate"

    id: Mapped[int] = mapped_column(primary_key=True)
    mandate_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_mandate_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisor.id"), index=True)
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The client_ids the "consent" action covers, each named to the traveller.
    platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    method: Mapped[str] = mapped_column(String(32))
    confirmation: Mapped[str] = mapped_column(String(8))
    months: Mapped[int]
    # The confirmation code (its keyed digest), until it is used or lapses.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(16))
    # When the audit log was told that the mandate lapsed (mandate:expired), once.
    expiry_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    advisor: Mapped[Advisor] = relationship()
    user: Mapped[User] = relationship()

    def check_in_force(self, now: datetime) -> bool:
        return (self.confirmed_at is not None and self.revoked_at is None
                and self.expires_at is not None and self.expires_at > now)

    def state(self, now: datetime) -> str:
        """"waiting" (for the code), "blocked" (too many wrong codes), "active",
        "expired" or "revoked"."""
        if self.revoked_at is not None:
            return "revoked"
        if self.confirmed_at is None:
            return "waiting" if self.code_hash is not None else "blocked"
        return "active" if self.check_in_force(now) else "expired"

    def check_allows(self, action: str, client_id: str | None = None) -> bool:
        if action not in self.actions:
            return False
        if action == CONSENT:
            return client_id is not None and client_id in self.platforms
        return True

    def describe(self) -> dict[str, Any]:
        return {"mandate_id": self.mandate_id, "actions": list(self.actions),
                "platforms": list(self.platforms), "method": self.method}
