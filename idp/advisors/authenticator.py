"""The authenticator app every advisor must use (RFC 6238 TOTP), kept as the travellers'
one is (idp.accounts.mfa): the secret encrypted under a key derived for this purpose, with
the advisor's id as associated data; the last step used, against replays."""

from __future__ import annotations

import hmac
import os
import re
import time

import pyotp
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.accounts.mfa import DIGITS, ISSUER, STEP, VALID_WINDOW, derive_key, normalize_code
from idp.advisors.models import Advisor
from idp.extensions import db, utcnow

SECRET_INFO = b"mobility-id advisor totp secret"


def _aad(advisor: Advisor) -> bytes:
    return f"advisor-totp:{advisor.id}".encode()


def encrypt_secret(secret: str, advisor: Advisor) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(derive_key(SECRET_INFO)).encrypt(nonce, secret.encode(), _aad(advisor))


def decrypt_secret(blob: bytes, advisor: Advisor) -> str:
    return AESGCM(derive_key(SECRET_INFO)).decrypt(blob[:12], blob[12:], _aad(advisor)).decode()


def save_pending_secret(advisor: Advisor) -> str:
    """The secret being set up: the pending one, or a new one. Commits."""
    if advisor.totp_secret_encrypted is not None and advisor.totp_confirmed_at is None:
        return decrypt_secret(advisor.totp_secret_encrypted, advisor)
    secret = pyotp.random_base32()
    advisor.totp_secret_encrypted = encrypt_secret(secret, advisor)
    advisor.totp_confirmed_at = None
    advisor.totp_last_used_step = None
    db.session.commit()
    return secret


def generate_provisioning_uri(advisor: Advisor, secret: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=advisor.email, issuer_name=f"{ISSUER} (advisor)")


def check_totp(advisor: Advisor, code: str | None, pending: bool = False) -> bool:
    """The code is right now (one step of drift either side) and newer than the last one
    accepted, which it then becomes. ``pending``: the authenticator being set up. Commits."""
    code = normalize_code(code)
    if (advisor.totp_secret_encrypted is None
            or (advisor.totp_confirmed_at is None) != pending
            or not re.fullmatch(rf"[0-9]{{{DIGITS}}}", code)):
        return False
    totp = pyotp.TOTP(decrypt_secret(advisor.totp_secret_encrypted, advisor), digits=DIGITS,
                      interval=STEP)
    now = int(time.time()) // STEP
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return claim_step(advisor, step)
    return False


def claim_step(advisor: Advisor, step: int) -> bool:
    """Record ``step`` as used unless it or a later one was: one conditional UPDATE, so
    two requests racing with the same code cannot both win. Commits."""
    result = db.session.execute(
        db.update(Advisor)
        .where(Advisor.id == advisor.id)
        .where((Advisor.totp_last_used_step.is_(None)) | (Advisor.totp_last_used_step < step))
        .values(totp_last_used_step=step))
    db.session.commit()
    db.session.refresh(advisor)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def confirm_totp(advisor: Advisor, code: str | None) -> bool:
    """The code proves the app is set up: the authenticator is on. Commits."""
    if not check_totp(advisor, code, pending=True):
        return False
    advisor.totp_confirmed_at = utcnow()
    db.session.commit()
    return True
