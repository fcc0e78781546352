"""Two-step verification: a TOTP authenticator (RFC 6238) and single-use recovery codes.

The TOTP secret is stored encrypted (AES-256-GCM) under a key derived from the
key-encryption key for this purpose alone, with the owner's id as associated data: a
signing-key ciphertext, or another traveller's secret, cannot be swapped in. Recovery
codes are random (80 bits): only their HMAC, keyed by another derived key, is stored, and
a leaked table gives nothing to brute-force offline without the key-encryption key."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import time
from datetime import datetime

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import ForeignKey, LargeBinary, String, bindparam, or_
from sqlalchemy.orm import Mapped, mapped_column

from idp.accounts import events
from idp.accounts.models import User
from idp.direct_sql import Columns, EntityRead
from idp.extensions import db, utcnow
from idp.types import UTCDateTime

ISSUER = "Mobility ID"
STEP = 30  # seconds (RFC 6238 4.1)
DIGITS = 6
# One step either side is accepted, for clock drift and typing time (RFC 6238 5.2).
VALID_WINDOW = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
RECOVERY_LENGTH = 16  # 16 base32 characters: 80 bits
SECRET_INFO = b"mobility-id totp secret"
RECOVERY_INFO = b"mobility-id recovery code"


class TotpCredential(db.Model):  # type: ignore[name-defined,misc]
    """A traveller's authenticator app; pending until a first code confirms it."""

    __tablename__ = "totp_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last time step accepted: a code of this step or an earlier one is a replay.
    last_used_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """One single-use recovery code, kept as an HMAC only."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def derive_key(info: bytes) -> bytes:
    """A 256-bit key for one purpose, derived from the key-encryption key (HKDF, RFC 5869)."""
    kek = current_app.extensions["idp.settings"].kek_bytes
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(kek)


def encrypt_secret(secret: str, user_id: int) -> bytes:
    nonce = os.urandom(12)
    aad = f"totp:{user_id}".encode()
    return nonce + AESGCM(derive_key(SECRET_INFO)).encrypt(nonce, secret.encode(), aad)


def decrypt_secret(blob: bytes, user_id: int) -> str:
    aad = f"totp:{user_id}".encode()
    return AESGCM(derive_key(SECRET_INFO)).decrypt(blob[:12], blob[12:], aad).decode()


def query_credential(user: User) -> TotpCredential | None:
    return credential_of().entity({"user_id": user.id})


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def credential_of() -> EntityRead[TotpCredential]:
    return EntityRead(Columns(TotpCredential), TotpCredential.user_id == bindparam("user_id"))


def check_enabled(user: User) -> bool:
    """The traveller has a confirmed authenticator: every login asks for a code."""
    credential = query_credential(user)
    return credential is not None and credential.confirmed_at is not None


def save_pending_secret(user: User) -> str:
    """The secret of the authenticator being set up: the pending one, or a new one.
    Commits."""
    credential = query_credential(user)
    if credential is not None and credential.confirmed_at is None:
        return decrypt_secret(credential.secret_encrypted, user.id)
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 4 recommends
    if credential is None:
        credential = TotpCredential(user_id=user.id)
        db.session.add(credential)
    credential.secret_encrypted = encrypt_secret(secret, user.id)
    credential.last_used_step = None
    db.session.commit()
    return secret


def generate_provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=user.email, issuer_name=ISSUER)


def normalize_code(code: str | None) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def check_totp(user: User, code: str | None, pending: bool = False) -> bool:
    """The code is right for now (one step of drift either side) and newer than the last
    one accepted; it is then recorded as used. ``pending``: check the authenticator being
    set up rather than the confirmed one. Commits."""
    code = normalize_code(code)
    credential = query_credential(user)
    if (credential is None or (credential.confirmed_at is None) != pending
            or not re.fullmatch(rf"[0-9]{{{DIGITS}}}", code)):
        return False
    totp = pyotp.TOTP(decrypt_secret(credential.secret_encrypted, user.id), digits=DIGITS,
                      interval=STEP)
    now = int(time.time()) // STEP
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return claim_step(credential, step)
    return False


def claim_step(credential: TotpCredential, step: int) -> bool:
    """Record ``step`` as used unless it or a later one already was (the replay guard).
    One conditional UPDATE: two requests racing with the same code cannot both win."""
    result = db.session.execute(
        db.update(TotpCredential)
        .where(TotpCredential.id == credential.id)
        .where(or_(TotpCredential.last_used_step.is_(None),
                   TotpCredential.last_used_step < step))
        .values(last_used_step=step)
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def confirm_totp(user: User, code: str | None) -> list[str] | None:
    """Turn two-step verification on when ``code`` proves the app is set up; the new
    recovery codes, shown once, or None when the code is wrong. Commits."""
    if not check_totp(user, code, pending=True):
        return None
    credential = query_credential(user)
    assert credential is not None
    credential.confirmed_at = utcnow()
    events.announce(user, events.TWO_STEP_ENABLED)
    return save_recovery_codes(user)


def delete_totp(user: User, by: str = "traveller") -> None:
    """Turn two-step verification off: the authenticator and recovery codes are forgotten.
    ``by`` says who did it (the traveller, or the operator for one who lost both the
    app and the codes). Commits."""
    db.session.execute(db.delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    events.announce(user, events.TWO_STEP_DISABLED, by=by)
    db.session.commit()


def hash_recovery_code(code: str) -> str:
    return hmac.new(derive_key(RECOVERY_INFO), code.encode(), hashlib.sha256).hexdigest()


def generate_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4))


def save_recovery_codes(user: User) -> list[str]:
    """A new set of recovery codes, replacing the old ones; returned in clear this once.
    Commits."""
    codes = [generate_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(
        normalize_code(code))) for code in codes)
    db.session.commit()
    return codes


def check_recovery_code(user: User, code: str | None) -> bool:
    """The code is one of the traveller's unused recovery codes; it is then used up.
    A conditional UPDATE, so a code works once even when two requests race. Commits."""
    code = normalize_code(code)
    if len(code) != RECOVERY_LENGTH or not check_enabled(user):
        return False
    result = db.session.execute(
        db.update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id)
        .where(RecoveryCode.code_hash == hash_recovery_code(code))
        .where(RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def count_recovery_codes(user: User) -> int:
    """How many recovery codes the traveller has left."""
    return len(db.session.scalars(
        db.select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                         RecoveryCode.used_at.is_(None))).all())


def check_second_factor(user: User, code: str | None) -> bool:
    """A code from the app, or else a recovery code (re-authentication accepts either)."""
    if len(normalize_code(code)) == DIGITS:
        return check_totp(user, code)
    return check_recovery_code(user, code)
