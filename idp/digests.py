"""Digests of high-entropy secrets (client secrets, tokens, codes).

These values are random and long, so a plain SHA-256 is enough to keep a database leak
from revealing them; a password KDF would make every token request pay for nothing."""

import hashlib
import hmac
import secrets


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_digest(value: str, expected: str) -> bool:
    return hmac.compare_digest(digest(value), expected)


def generate_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
