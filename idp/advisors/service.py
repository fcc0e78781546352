"""Advisors' accounts and the mandates travellers give them: creation, set-up links,
codes, confirmation, revocation. Views and the command line both call these."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from idp import sms
from idp.accounts.mfa import derive_key
from idp.accounts.models import User
from idp.accounts.service import find_user, normalize_email
from idp.advisors import access, events, sessions
from idp.advisors.assistance import Assistance
from idp.advisors.models import (
    ACTIONS,
    CONFIRMATIONS,
    CONSENT,
    DURATIONS,
    METHODS,
    ROLES,
    SMS,
    Advisor,
    Mandate,
)
from idp.digests import digest
from idp.extensions import db, utcnow
from idp.oauth.models import Client
from idp.urls import issuer_url

SETUP_LIFETIME = timedelta(hours=24)
CODE_DIGITS = 6
SMS_CODE_LIFETIME = timedelta(minutes=15)
PAPER_CODE_LIFETIME = timedelta(hours=24)  # printed, signed, then typed in: the same day
MAX_ATTEMPTS = 5
CODE_INFO = b"mobility-id mandate code"
MAX_MONTHS = 12

# What a mandate allows, as the advisor chooses it and as the traveller reads it.
ACTION_CHOICES: dict[str, LazyString] = {
    "create_account": _l("Create their account"),
    "consent": _l("Agree for them to share details with the platforms chosen below"),
    "update_details": _l("Change their travel details"),
    "read_history": _l("Read what happened on their account"),
}
ACTION_WORDS: dict[str, LazyString] = {
    "create_account": _l("create your account"),
    "consent": _l("agree for you to share your details with some platforms"),
    "update_details": _l("change your travel details"),
    "read_history": _l("read what happened on your account"),
}
METHOD_WORDS: dict[str, LazyString] = {
    "assisted_in_person": _l("In person"),
    "assisted_phone": _l("On the phone"),
}


class AdvisorError(ValueError):
    """A request the service refuses; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Confirmation(StrEnum):
    CONFIRMED = "confirmed"
    WRONG = "wrong"
    EXPIRED = "expired"  # the code lapsed: send or print a new one
    BLOCKED = "blocked"  # too many wrong codes: start again
    DONE = "done"  # already confirmed, revoked or lapsed


@dataclass(frozen=True)
class NewMandate:
    mandate: Mandate
    code: str  # in clear this once: sent by SMS, or printed on the paper


# --- advisors -------------------------------------------------------------------------

def find_advisor(email: str) -> Advisor | None:
    return db.session.scalar(db.select(Advisor).where(Advisor.email == normalize_email(email)))


def add_advisor(email: str, name: str, centre: str, role: str = "advisor") -> tuple[Advisor, str]:
    """A new advisor and their set-up link (valid 24 h). Commits."""
    if role not in ROLES:
        raise AdvisorError("role", f"unknown role {role!r}")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise AdvisorError("email", str(_l("Enter an email address like name@example.org."))) \
            from error
    name, centre = name.strip(), centre.strip()
    if not name:
        raise AdvisorError("name", str(_l("Enter the advisor’s name.")))
    if not centre:
        raise AdvisorError("centre", str(_l("Enter the advisor’s centre.")))
    if find_advisor(email) is not None:
        raise AdvisorError("email", str(_l("An advisor already uses this email address.")))
    advisor = Advisor(email=normalize_email(email), name=name[:100], centre=centre[:200],
                      role=role)
    db.session.add(advisor)
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise AdvisorError("email", str(_l("An advisor already uses this email address."))) \
            from error
    link = new_setup_link(advisor)
    db.session.commit()
    return advisor, link


def new_setup_link(advisor: Advisor) -> str:
    """A one-time link where the advisor chooses a password and sets up their app; only
    its digest is kept. The caller commits."""
    token = secrets.token_urlsafe(32)
    advisor.setup_token_hash = digest(token)
    advisor.setup_expires_at = utcnow() + SETUP_LIFETIME
    return issuer_url("advisors.setup", token=token)


def query_setup(token: str) -> Advisor | None:
    """The advisor a set-up link is for, while it is valid."""
    if not token or len(token) > 128:
        return None
    advisor = db.session.scalar(db.select(Advisor).where(Advisor.setup_token_hash == digest(token)))
    if (advisor is None or advisor.revoked_at is not None or advisor.setup_expires_at is None
            or advisor.setup_expires_at <= utcnow()):
        return None
    return advisor


def all_advisors() -> list[Advisor]:
    return list(db.session.scalars(db.select(Advisor).order_by(Advisor.centre, Advisor.name)))


def revoke_advisor(advisor: Advisor) -> int:
    """The advisor can do nothing more, from now on, on every instance: their sessions end,
    their set-up link dies, every mandate they hold is revoked (by the operator). The
    number of mandates revoked. Commits."""
    now = utcnow()
    advisor.revoked_at = advisor.revoked_at or now
    advisor.setup_token_hash = None
    sessions.end_sessions(advisor)
    held = db.session.scalars(db.select(Mandate).where(
        Mandate.advisor_id == advisor.id, Mandate.revoked_at.is_(None)))
    count = 0
    for mandate in held:
        revoke_mandate(mandate, "operator", commit=False)
        count += 1
    db.session.commit()
    return count


# --- mandates -------------------------------------------------------------------------

def add_months(start: datetime, months: int) -> datetime:
    """``start`` plus whole months, the day clamped to the month's end (31 Jan + 1 = 28 Feb)."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def assistance_of(mandate: Mandate) -> Assistance:
    return access.assistance_of(mandate.advisor, mandate)


def registered_platforms() -> list[Client]:
    return list(db.session.scalars(db.select(Client).order_by(Client.client_name)))


def hash_code(mandate: Mandate, code: str) -> str:
    message = f"{mandate.mandate_id}:{code}".encode()
    return hmac.new(derive_key(CODE_INFO), message, hashlib.sha256).hexdigest()


def generate_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def validate_mandate(user: User, actions: Iterable[str], platforms: Iterable[str],
                     months: int, method: str, confirmation: str) -> None:
    actions, platforms = list(actions), list(platforms)
    if not actions:
        raise AdvisorError("actions", str(_l("Tick at least one thing you may do.")))
    if any(a not in ACTIONS for a in actions):
        raise AdvisorError("actions", "unknown action")
    if CONSENT in actions and not platforms:
        raise AdvisorError("platforms", str(_l("Tick the platforms they agree to.")))
    known = {c.client_id for c in registered_platforms()}
    if any(p not in known for p in platforms):
        raise AdvisorError("platforms", "unknown platform")
    if months not in DURATIONS or months > MAX_MONTHS:
        raise AdvisorError("months", str(_l("Choose how long: 1, 3, 6 or 12 months.")))
    if method not in METHODS:
        raise AdvisorError("method", "unknown method")
    if confirmation not in CONFIRMATIONS:
        raise AdvisorError("confirmation", "unknown confirmation")
    if confirmation == SMS and not sms.available():
        raise AdvisorError("confirmation", str(_l(
            "Text messages cannot be sent now. Choose the paper.")))
    if confirmation == SMS and not user.phone_number:
        raise AdvisorError("confirmation", str(_l(
            "This person has no mobile number on their account. Choose the paper form.")))


def start_mandate(advisor: Advisor, user: User, actions: Iterable[str],
                  platforms: Iterable[str], months: int, method: str,
                  confirmation: str) -> NewMandate:
    """A mandate waiting for the traveller's code, and that code: sent by SMS now, or to
    print (``confirmation`` "paper"). The caller commits."""
    actions = [a for a in ACTIONS if a in set(actions)]
    platforms = sorted(set(platforms)) if CONSENT in actions else []
    validate_mandate(user, actions, platforms, months, method, confirmation)
    mandate = Mandate(user_id=user.id, advisor_id=advisor.id, actions=actions,
                      platforms=platforms, method=method, confirmation=confirmation,
                      months=months, attempts=0)
    mandate.advisor = advisor
    mandate.user = user
    db.session.add(mandate)
    db.session.flush()
    return NewMandate(mandate, new_code(mandate))


def new_code(mandate: Mandate) -> str:
    """A new code for the mandate (the earlier one stops working); sent at once by SMS.
    Wrong attempts are not forgotten. The caller commits."""
    code = generate_code()
    lifetime = SMS_CODE_LIFETIME if mandate.confirmation == SMS else PAPER_CODE_LIFETIME
    mandate.code_hash = hash_code(mandate, code)
    mandate.code_expires_at = utcnow() + lifetime
    if mandate.confirmation == SMS:
        send_code(mandate, code)
    return code


def send_code(mandate: Mandate, code: str) -> bool:
    user, advisor = mandate.user, mandate.advisor
    if not user.phone_number:
        return False
    words = ", ".join(str(ACTION_WORDS[a]) for a in mandate.actions)
    return sms.send_sms(user.phone_number, "mandate_code", user.locale, code=code,
                        advisor=advisor.name, centre=advisor.centre, actions=words,
                        minutes=int(SMS_CODE_LIFETIME.total_seconds() // 60))


def confirm_mandate(mandate: Mandate, code: str | None) -> Confirmation:
    """The traveller's code, typed by the advisor: the mandate starts (for its months,
    12 at most) when it is right. Five tries per mandate. Commits."""
    now = utcnow()
    if mandate.confirmed_at is not None or mandate.revoked_at is not None:
        return Confirmation.DONE
    if mandate.code_hash is None or mandate.attempts >= MAX_ATTEMPTS:
        return Confirmation.BLOCKED
    if mandate.code_expires_at is None or mandate.code_expires_at <= now:
        return Confirmation.EXPIRED
    # One conditional UPDATE counts the try: racing requests cannot exceed the limit.
    counted = db.session.execute(
        db.update(Mandate).where(Mandate.id == mandate.id, Mandate.attempts < MAX_ATTEMPTS,
                                 Mandate.confirmed_at.is_(None))
        .values(attempts=Mandate.attempts + 1))
    if not counted.rowcount:  # type: ignore[attr-defined]
        db.session.commit()
        return Confirmation.BLOCKED
    typed = "".join(c for c in (code or "") if c.isdigit())
    if not hmac.compare_digest(hash_code(mandate, typed), mandate.code_hash):
        db.session.commit()
        db.session.refresh(mandate)
        if mandate.attempts >= MAX_ATTEMPTS:
            mandate.code_hash = None
            db.session.commit()
            return Confirmation.BLOCKED
        return Confirmation.WRONG
    db.session.refresh(mandate)
    mandate.confirmed_at = now
    mandate.expires_at = add_months(now, min(mandate.months, MAX_MONTHS))
    mandate.code_hash = None
    mandate.code_expires_at = None
    events.announce(mandate.user, events.MANDATE_GRANTED, assistance_of(mandate),
                    actions=list(mandate.actions), platforms=list(mandate.platforms),
                    months=mandate.months, confirmation=mandate.confirmation)
    db.session.commit()
    return Confirmation.CONFIRMED


def revoke_mandate(mandate: Mandate, by: str, commit: bool = True) -> bool:
    """Stop the mandate now; False if it had already ended. The audit log hears of a
    mandate that was in force."""
    now = utcnow()
    if mandate.revoked_at is not None:
        return False
    was_in_force = mandate.check_in_force(now)
    mandate.revoked_at = now
    mandate.revoked_by = by
    mandate.code_hash = None
    if was_in_force:
        events.announce(mandate.user, events.MANDATE_REVOKED, assistance_of(mandate), by=by)
    if commit:
        db.session.commit()
    return True


def record_expired(user: User | None = None) -> int:
    """Tell the audit log, once each, of the mandates that lapsed (of ``user``, or all);
    how many. Run by ``idp advisors expire`` and when a traveller opens their helpers'
    page. Commits."""
    now = utcnow()
    query = db.select(Mandate).where(
        Mandate.confirmed_at.is_not(None), Mandate.revoked_at.is_(None),
        Mandate.expires_at <= now, Mandate.expiry_recorded_at.is_(None))
    if user is not None:
        query = query.where(Mandate.user_id == user.id)
    count = 0
    for mandate in db.session.scalars(query.with_for_update(skip_locked=True)):
        mandate.expiry_recorded_at = now
        events.announce(mandate.user, events.MANDATE_EXPIRED, assistance_of(mandate),
                        months=mandate.months)
        count += 1
    db.session.commit()
    return count


def query_mandate(mandate_id: str) -> Mandate | None:
    if not mandate_id or len(mandate_id) > 36:
        return None
    return db.session.scalar(db.select(Mandate).where(Mandate.mandate_id == mandate_id)
                             .execution_options(populate_existing=True))


def mandates_of_advisor(advisor: Advisor) -> list[Mandate]:
    return list(db.session.scalars(db.select(Mandate).where(Mandate.advisor_id == advisor.id)
                                   .order_by(Mandate.created_at.desc())))


def mandates_of_traveller(user: User) -> list[Mandate]:
    """The traveller's mandates that were confirmed, newest first."""
    return list(db.session.scalars(
        db.select(Mandate).where(Mandate.user_id == user.id, Mandate.confirmed_at.is_not(None))
        .order_by(Mandate.confirmed_at.desc()).execution_options(populate_existing=True)))


# --- accounts made with an advisor ----------------------------------------------------

UNUSABLE_PREFIX = "!assisted:"


def unusable_password_hash() -> str:
    """A value no password matches (not an argon2 hash): nobody, not even the advisor,
    knows a password of this account until the traveller chooses one."""
    return UNUSABLE_PREFIX + secrets.token_hex(16)


def create_assisted_account(advisor: Advisor, email: str, given_name: str,
                            family_name: str | None, phone_number: str | None) -> User:
    """The traveller's account, made with them by an advisor: active, with no password
    anyone knows; the traveller takes it over with a link (mail), or "Forgot your
    password?" later. The caller starts the mandate and commits."""
    email = normalize_email(email)
    if find_user(email) is not None:
        raise AdvisorError("email", str(_l(
            "An account already uses this email address. Use “Help someone who has an "
            "account” instead.")))
    user = User(email=email, password_hash=unusable_password_hash(),
                given_name=given_name.strip() or None,
                family_name=(family_name or "").strip() or None,
                phone_number=phone_number, phone_number_verified=False,
                activated_at=utcnow())
    db.session.add(user)
    db.session.flush()
    return user

