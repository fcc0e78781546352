"""Signed, expiring, single-use links sent by email: verifying an address, confirming a
new one, resetting a password.

A link's token is an itsdangerous signature (the app secret, one salt per purpose) over
the purpose, the user id and a random nonce. The signature turns away tampered and
wrong-purpose tokens without touching the database; the ``email_link`` row, found by the
nonce's SHA-256, makes the link single use, voidable, and holds the address it was sent
to. The address stays out of the token on purpose: itsdangerous signs but does not
encrypt, and a URL ends up in browser histories and server logs."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import ForeignKey, String, delete, update
from sqlalchemy.orm import Mapped, mapped_column

from idp.accounts.models import User
from idp.digests import digest
from idp.extensions import db, utcnow
from idp.types import UTCDateTime


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"  # the account's current address
    CHANGE_EMAIL = "change_email"  # a new address, the account's once the link is followed
    RESET_PASSWORD = "reset_password"
    # After the right code sent by SMS (idp.accounts.sms_recovery): the same page, but
    # it proves the phone, not the mailbox.
    RESET_BY_SMS = "reset_by_sms"


# Which setting gives each purpose's lifetime, in seconds.
LIFETIME_SETTINGS = {
    Purpose.VERIFY_EMAIL: "email_verification_lifetime",
    Purpose.CHANGE_EMAIL: "email_verification_lifetime",
    Purpose.RESET_PASSWORD: "password_reset_lifetime",
    Purpose.RESET_BY_SMS: "password_reset_lifetime",
}
# A new link of a kind is not sent again within this many seconds, so that nobody can
# flood a traveller's mailbox through the forms that send them.
RESEND_COOLDOWN = 60
MAX_TOKEN_LENGTH = 512


class EmailLink(db.Model):  # type: ignore[name-defined,misc]
    """One link sent by email. Only the nonce's digest is stored."""

    __tablename__ = "email_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkError(ValueError):
    """A link that cannot be followed; ``reason`` is ``invalid``, ``expired`` or ``used``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def lifetime(purpose: Purpose) -> int:
    seconds: int = getattr(current_app.extensions["idp.settings"], LIFETIME_SETTINGS[purpose])
    return seconds


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    # One salt per purpose: a reset token is no verification token, even if replayed.
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"],
                                  salt=f"idp.email-link.{purpose.value}")


def generate_link(user: User, purpose: Purpose, email: str | None = None) -> str:
    """A token for a new link to ``email`` (the account's address by default). Earlier
    links of the same kind stop working: only the newest one counts. The caller commits."""
    now = utcnow()
    void_links(user, purpose, now)
    db.session.execute(delete(EmailLink).where(EmailLink.user_id == user.id,
                                               EmailLink.expires_at < now))
    nonce = secrets.token_urlsafe(24)
    db.session.add(EmailLink(
        nonce_hash=digest(nonce), purpose=purpose.value, user_id=user.id,
        email=email or user.email, created_at=now,
        expires_at=now + timedelta(seconds=lifetime(purpose)),
    ))
    return _serializer(purpose).dumps({"p": purpose.value, "u": user.id, "n": nonce})


def check_recently_sent(user: User, purpose: Purpose) -> bool:
    """A link of this kind went to the traveller less than ``RESEND_COOLDOWN`` ago."""
    since = utcnow() - timedelta(seconds=RESEND_COOLDOWN)
    found = db.session.scalar(db.select(EmailLink.id).where(
        EmailLink.user_id == user.id, EmailLink.purpose == purpose.value,
        EmailLink.created_at > since).limit(1))
    return found is not None


def query_link(token: str, purpose: Purpose) -> EmailLink:
    """The unused, unexpired link this token stands for; raises LinkError otherwise."""
    nonce_hash, user_id = _read_token(token, purpose)
    link = db.session.scalar(db.select(EmailLink).where(EmailLink.nonce_hash == nonce_hash))
    if link is None or link.purpose != purpose.value or link.user_id != user_id:
        raise LinkError("invalid")
    if link.used_at is not None:
        raise LinkError("used")
    if link.expires_at <= utcnow():
        raise LinkError("expired")
    return link


def use_link(token: str, purpose: Purpose) -> EmailLink:
    """Spend the link, once: of two requests racing with it, only one gets it. In the
    caller's transaction, so that it is spent with the change it allows."""
    link = query_link(token, purpose)
    now = utcnow()
    spent = db.session.execute(
        update(EmailLink)
        .where(EmailLink.id == link.id, EmailLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkError("used")
    link.used_at = now
    return link


def void_links(user: User, purpose: Purpose, now: datetime | None = None) -> None:
    """Make every outstanding link of this kind useless (after a reset, a change of
    address, or a newer link). The caller commits."""
    db.session.execute(
        update(EmailLink)
        .where(EmailLink.user_id == user.id, EmailLink.purpose == purpose.value,
               EmailLink.used_at.is_(None))
        .values(used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def _read_token(token: str, purpose: Purpose) -> tuple[str, int]:
    """The nonce's digest and the user id a token carries, once its signature holds."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkError("invalid")
    try:
        data = _serializer(purpose).loads(token, max_age=lifetime(purpose))
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except BadSignature as exc:
        raise LinkError("invalid") from exc
    if not isinstance(data, dict) or data.get("p") != purpose.value \
            or not isinstance(data.get("n"), str) or not isinstance(data.get("u"), int):
        raise LinkError("invalid")
    return digest(data["n"]), data["u"]
