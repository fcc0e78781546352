"""Checking a logout token (OpenID Connect Back-Channel Logout 1.0, section 2.6) before
ending any session: a forged or replayed token must end nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from clients.demo_platform.jwts import LEEWAY, TokenError, decode

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"


class LogoutTokenError(TokenError):
    """The token is refused; the message says why, without quoting the token."""


class ReplayGuard:
    """The jti of every logout token accepted, kept until the token expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def check_new(self, jti: str, exp: float, now: float) -> bool:
        with self._lock:
            self._seen = {key: until for key, until in self._seen.items() if until > now}
            if jti in self._seen:
                return False
            self._seen[jti] = exp + LEEWAY
            return True


def validate_claims(claims: dict[str, Any], issuer: str, client_id: str, now: float) -> None:
    """Section 2.6 steps 3 to 6: iss, aud, iat, exp; a sub or a sid; the logout event;
    no nonce, so that an ID token cannot pass for a logout token."""
    registry = jwt.JWTClaimsRegistry(
        now=int(now), leeway=LEEWAY,
        iss={"essential": True, "value": issuer}, aud={"essential": True, "value": client_id},
        iat={"essential": True}, exp={"essential": True}, jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise LogoutTokenError(f"claims refused ({error.error})") from error
    if not (claims.get("sub") or claims.get("sid")):
        raise LogoutTokenError("neither sub nor sid")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise LogoutTokenError("no back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenError("a nonce is not allowed in a logout token")


def validate_logout_token(token: str, *, issuer: str, client_id: str,
                          fetch_keys: Callable[[bool], Any],
                          algorithms: list[str], replay: ReplayGuard,
                          now: float | None = None) -> dict[str, Any]:
    """The token's claims if it is a fresh logout token from our provider, for us."""
    if not token:
        raise LogoutTokenError("no logout_token")
    try:
        decoded = decode(token, fetch_keys, algorithms)
    except TokenError as error:
        raise LogoutTokenError(str(error)) from error
    if decoded.header.get("typ", TOKEN_TYPE) != TOKEN_TYPE:
        raise LogoutTokenError("not typed as a logout token")
    now = time.time() if now is None else now
    claims = dict(decoded.claims)
    validate_claims(claims, issuer, client_id, now)
    if not replay.check_new(str(claims["jti"]), float(claims["exp"]), now):
        raise LogoutTokenError("jti already used")
    return claims
