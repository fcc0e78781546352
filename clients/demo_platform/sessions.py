"""Local sessions kept in this process's memory, keyed by a random id that is all the
browser's cookie holds: a back-channel logout can then really end them, which a session
stored only in a signed cookie would not allow."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class LocalSession:
    """A traveller logged in here: who the provider said they are, and what it shared."""

    key: str
    sub: str
    sid: str | None
    claims: dict[str, Any]
    # Kept only to exchange it for a token at the partner's API, never shown or logged.
    access_token: str | None = field(default=None, repr=False)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class SessionStore:
    """Thread-safe: the platform serves requests, back-channel ones included, in threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, LocalSession] = {}

    def open(self, sub: str, sid: str | None, claims: dict[str, Any],
             access_token: str | None = None) -> LocalSession:
        local = LocalSession(secrets.token_urlsafe(32), sub, sid, claims, access_token)
        with self._lock:
            self._sessions[local.key] = local
        return local

    def get(self, key: str | None) -> LocalSession | None:
        if key is None:
            return None
        with self._lock:
            return self._sessions.get(key)

    def end(self, key: str | None) -> None:
        with self._lock:
            self._sessions.pop(key or "", None)

    def end_matching(self, sub: str | None, sid: str | None) -> int:
        """Back-Channel Logout 1.0 2.7: with a sid, end that provider session here; with
        only a sub, every session of that traveller. Returns how many ended."""
        with self._lock:
            ended = [key for key, local in self._sessions.items() if matches(local, sub, sid)]
            for key in ended:
                del self._sessions[key]
        return len(ended)


def matches(local: LocalSession, sub: str | None, sid: str | None) -> bool:
    if sid is not None:
        return local.sid == sid and (sub is None or local.sub == sub)
    return sub is not None and local.sub == sub


class StateCache:
    """Where Authlib keeps a login in progress (state, nonce, PKCE verifier): here, not in
    the cookie, which then carries only the state's name and expiry. Authlib's cache
    interface: get, set with a timeout in seconds, delete."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[str, float]] = {}
        self._clock = clock

    def get(self, key: str) -> str | None:
        with self._lock:
            value, until = self._entries.get(key, (None, 0.0))
            return value if until > self._clock() else None

    def set(self, key: str, value: str, timeout: float) -> None:
        now = self._clock()
        with self._lock:
            self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
            self._entries[key] = (value, now + timeout)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
