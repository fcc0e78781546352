"""Security events the provider pushes to the platform (RFC 8935): a Security Event
Token (RFC 8417) saying that a traveller stopped a delegation (OpenID CAEP's
token-claims-change with the project's ``mob_delegation`` claim, README "Events we
push"). Checked like a logout token before anything is recorded: a forged event must
change nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from joserfc import jwt
from joserfc.errors import JoseError

from clients.demo_platform.jwts import TokenError, decode

MEDIA_TYPE = "application/secevent+jwt"  # RFC 8935 2
TOKEN_TYPE = "secevent+jwt"  # RFC 8417 2.3
TOKEN_CLAIMS_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
DELEGATION = "mob_delegation"
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")


class EventError(TokenError):
    """RFC 8935 2.3: the SET is refused; ``err`` is the code answered, the message says
    why without quoting the token."""

    def __init__(self, err: str, description: str) -> None:
        super().__init__(description)
        self.err = err


@dataclass(frozen=True)
class StoppedDelegation:
    """A traveller (our own `sub`) stopped ``actor`` acting on ``resource`` for them."""

    sub: str
    actor: str
    resource: str
    at: datetime

    @property
    def day(self) -> str:
        """The day, in French as the pages are, where the demo's travellers live."""
        day = self.at.astimezone(local_zone())
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def local_zone() -> tzinfo:
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:  # a system without a time zone database
        return UTC


class StoppedDelegations:
    """The last delegation each traveller stopped here, in memory like the bookings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, StoppedDelegation] = {}

    def add(self, stopped: StoppedDelegation) -> None:
        with self._lock:
            self._last[stopped.sub] = stopped

    def of(self, sub: str) -> StoppedDelegation | None:
        with self._lock:
            return self._last.get(sub)


def validate_event_token(token: str, *, issuer: str, client_id: str,
                         fetch_keys: Callable[[bool], Any],
                         algorithms: list[str]) -> dict[str, Any]:
    """RFC 8417 2.3 and RFC 8935 2: the provider's signature, the SET type, its issuer,
    ourselves as audience; returns the claims."""
    try:
        decoded = decode(token, fetch_keys, algorithms)
    except TokenError as error:
        raise EventError("authentication_failed", str(error)) from error
    if decoded.header.get("typ") != TOKEN_TYPE:
        raise EventError("invalid_request", "not typed as a security event token")
    claims = dict(decoded.claims)
    checks = {  # one at a time: each has its own error code
        "invalid_issuer": jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}),
        "invalid_audience": jwt.JWTClaimsRegistry(aud={"essential": True, "value": client_id}),
    }
    for err, registry in checks.items():
        try:
            registry.validate(claims)
        except JoseError as error:
            raise EventError(err, f"claims refused ({error.error})") from error
    if not isinstance(claims.get("events"), dict) or not claims.get("jti"):
        raise EventError("invalid_request", "no events or no jti")
    return claims


def stopped_delegation(claims: dict[str, Any], issuer: str) -> StoppedDelegation | None:
    """The delegation the SET says was stopped, if it says so; None for another event.
    An event that names no traveller of ours is malformed (RFC 8935 2.3)."""
    event = claims["events"].get(TOKEN_CLAIMS_CHANGE)
    changed = event.get("claims") if isinstance(event, dict) else None
    delegation = changed.get(DELEGATION) if isinstance(changed, dict) else None
    if not isinstance(delegation, dict) or delegation.get("status") != "stopped":
        return None
    subject = claims.get("sub_id")
    if not isinstance(subject, dict) or subject.get("format") != "iss_sub" or \
            subject.get("iss") != issuer or not isinstance(subject.get("sub"), str):
        raise EventError("invalid_request", "no traveller named by iss_sub")
    at = event.get("event_timestamp", claims.get("iat"))
    if not isinstance(at, int):
        raise EventError("invalid_request", "no event_timestamp")
    return StoppedDelegation(subject["sub"], str(delegation.get("actor")),
                             str(delegation.get("resource")), datetime.fromtimestamp(at, UTC))
