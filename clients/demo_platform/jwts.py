"""Verifying a JWT the provider signed, with the keys it publishes at /jwks.json: logout
tokens and, at the national platform's API, access tokens (RFC 9068)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

LEEWAY = 30  # seconds of clock difference tolerated between the provider and us


class TokenError(ValueError):
    """The token is refused; the message says why, without quoting the token."""


def decode(token: str, fetch_keys: Callable[[bool], Any],
           algorithms: list[str]) -> jwt.Token:
    """Verify the signature with the provider's JWKS, fetched again once for an unknown
    kid (the provider may have rotated its keys)."""
    try:
        try:
            return jwt.decode(token, KeySet.import_key_set(fetch_keys(False)),
                              algorithms=algorithms)
        except InvalidKeyIdError:
            return jwt.decode(token, KeySet.import_key_set(fetch_keys(True)),
                              algorithms=algorithms)
    except (JoseError, ValueError) as error:
        raise TokenError(f"signature not verified ({type(error).__name__})") from error
