"""One-time codes sent by SMS, one mechanism for every use (``Purpose``): proving a phone
number, resetting a password, activating a new account.

Six digits can be guessed, so the protection is elsewhere (NIST SP 800-63B 5.1.3): a
code lives ``LIFETIME`` seconds, dies after ``MAX_ATTEMPTS`` wrong tries, works once, and
only the newest code of a kind works. Only an HMAC of the code, under the app's secret
and bound to its purpose, account and number, is stored. Sending is limited per number
and per account (``RESEND_COOLDOWN``, ``HOURLY_LIMIT``), so that nobody can flood a
phone or run up the operator's bill; the limits are counted in this table, shared by
every worker. A code never goes to a log."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import ForeignKey, String, delete, or_, update
from sqlalchemy.orm import Mapped, mapped_column

from idp import sms
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.types import UTCDateTime

LIFETIME = 10 * 60
MAX_ATTEMPTS = 5
RESEND_COOLDOWN = 60
HOURLY_LIMIT = 5
KEPT = 24 * 3600  # rows older than this count for nothing and are deleted


class Purpose(StrEnum):
    VERIFY_PHONE = "verify_phone"
    RESET_PASSWORD = "reset_password"
    ACTIVATE = "activate"


class SmsCode(db.Model):  # type: ignore[name-defined,misc]
    """One code sent. The number is kept to count the sending limit per number."""

    __tablename__ = "sms_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)


class CodeError(ValueError):
    """A code that does not work; ``reason``: ``wrong``, ``expired``, ``used``,
    ``exhausted`` (too many tries) or ``missing`` (none was sent)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooSoon(Exception):  # noqa: N818 (a refusal, not a fault)
    """No new code yet: ``wait`` seconds before the next one may leave."""

    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


def code_hash(purpose: Purpose, user_id: int, number: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{purpose.value}:{user_id}:{number}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def check_wait(user_id: int, number: str, now: datetime | None = None) -> int:
    """Seconds before a code may go to this account or number again; 0: now."""
    now = now or utcnow()
    since = now - timedelta(hours=1)
    sent = db.session.execute(
        db.select(SmsCode.user_id, SmsCode.number, SmsCode.created_at)
        .where(or_(SmsCode.user_id == user_id, SmsCode.number == number),
               SmsCode.created_at > since)
        .order_by(SmsCode.created_at)).all()
    waits = [0]
    if sent:
        waits.append(RESEND_COOLDOWN - int((now - sent[-1].created_at).total_seconds()))
    by_account = [s for s in sent if s.user_id == user_id]
    by_number = [s for s in sent if s.number == number]
    for mine in (by_account, by_number):
        if len(mine) >= HOURLY_LIMIT:
            oldest = mine[-HOURLY_LIMIT].created_at
            waits.append(int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)
    return max(waits)


def generate_code(user: User, purpose: Purpose, number: str) -> str:
    """A new code for ``number``; earlier codes of this kind stop working. Raises TooSoon
    over the sending limits. The caller commits, then sends."""
    now = utcnow()
    wait = check_wait(user.id, number, now)
    if wait > 0:
        raise TooSoon(wait)
    void_codes(user, purpose, now)
    db.session.execute(delete(SmsCode).where(SmsCode.user_id == user.id,
                                             SmsCode.created_at < now - timedelta(seconds=KEPT)))
    code = f"{secrets.randbelow(10**6):06d}"
    db.session.add(SmsCode(purpose=purpose.value, user_id=user.id, number=number,
                           code_hash=code_hash(purpose, user.id, number, code),
                           created_at=now, expires_at=now + timedelta(seconds=LIFETIME)))
    return code


def send_code(user: User, purpose: Purpose, number: str, locale: str | None) -> bool:
    """Write a new code (committed) and text it to ``number``. Raises TooSoon."""
    code = generate_code(user, purpose, number)
    db.session.commit()
    return sms.send_sms(number, "one_time_code", locale, code=code, minutes=LIFETIME // 60)


def query_code(user: User, purpose: Purpose) -> SmsCode | None:
    """The newest code of this kind sent to the traveller, used or not."""
    return db.session.scalar(db.select(SmsCode).where(
        SmsCode.user_id == user.id, SmsCode.purpose == purpose.value)
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).limit(1))


def use_code(user: User, purpose: Purpose, typed: str) -> SmsCode:
    """Spend the code typed, once; raises CodeError. Each try counts (committed at once,
    whatever the caller does next); the right one is spent in the caller's transaction,
    so that it goes with the change it allows."""
    found = query_code(user, purpose)
    now = utcnow()
    if found is None:
        raise CodeError("missing")
    if found.used_at is not None:
        raise CodeError("used")
    if found.expires_at <= now:
        raise CodeError("expired")
    counted = db.session.execute(
        update(SmsCode).where(SmsCode.id == found.id, SmsCode.attempts < MAX_ATTEMPTS)
        .values(attempts=SmsCode.attempts + 1).execution_options(synchronize_session=False))
    db.session.commit()
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeError("exhausted")
    typed = "".join(typed.split())  # "123 456", as a phone may show it
    expected = code_hash(purpose, user.id, found.number, typed)
    if not hmac.compare_digest(expected, found.code_hash):
        raise CodeError("wrong")
    spent = db.session.execute(
        update(SmsCode).where(SmsCode.id == found.id, SmsCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeError("used")
    return found


def void_codes(user: User, purpose: Purpose, now: datetime | None = None) -> None:
    """Make every outstanding code of this kind useless. The caller commits."""
    db.session.execute(
        update(SmsCode).where(SmsCode.user_id == user.id, SmsCode.purpose == purpose.value,
                              SmsCode.used_at.is_(None))
        .values(used_at=now or utcnow()).execution_options(synchronize_session=False))

