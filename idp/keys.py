"""Signing keys: generated at first need, stored encrypted with the key-encryption key,
decrypted once per process and published as a JWKS.

A key's life (``idp keys rotate``): "next", published but not signing, until its
``activates_at``; "active", signing; "retired" once its successor activates, still
published until every token it signed has expired; then "removed", gone from the JWKS
and its private part erased. States follow from the stored times, so a process moves
keys along by itself, without a write, when a cached time passes."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import LargeBinary, String, func, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db, utcnow
from idp.settings import ConfigError
from idp.types import UTCDateTime

SUPPORTED_ALGS = ("RS256", "ES256")
DEFAULT_ALG = "RS256"
# How often a process looks for keys added by another process (a rotation, another
# worker): the default of IDP_KEY_RECHECK_SECONDS (``Settings.key_recheck_seconds``).
RECHECK_SECONDS = 30.0

# The advisory lock under which a process creates the first keys (any constant of our own;
# PostgreSQL's advisory locks are one 64-bit namespace per database).
KEYS_LOCK = 0x1D9_6B65_7973  # "idp" "keys"

NEXT, ACTIVE, RETIRED, REMOVED = "next", "active", "retired", "removed"
# A logout token's lifetime (idp.oauth.backchannel.LIFETIME); signed with these keys too.
LOGOUT_TOKEN_LIFETIME = 120

JoseKey = RSAKey | ECKey


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(10), index=True)
    # The state last recorded by a key command; serving derives it from the times below.
    state: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activates_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def encrypt_private_key(pem: bytes, kek: bytes, kid: str) -> bytes:
    # AES-256-GCM; the kid is bound as associated data so rows cannot be swapped.
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, pem, kid.encode())


def decrypt_private_key(blob: bytes, kek: bytes, kid: str) -> bytes:
    return AESGCM(kek).decrypt(blob[:12], blob[12:], kid.encode())


def generate_key(alg: str) -> JoseKey:
    params: Any = {"kid": secrets.token_urlsafe(12), "alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def load_key(row: SigningKey, kek: bytes) -> JoseKey:
    pem = decrypt_private_key(row.private_key_encrypted, kek, row.kid)
    params: Any = {"kid": row.kid, "alg": row.alg, "use": "sig"}
    cls = RSAKey if row.alg == "RS256" else ECKey
    return cls.import_key(pem, parameters=params)


def create_signing_key(alg: str, kek: bytes, activates_at: datetime | None = None,
                       now: datetime | None = None) -> SigningKey:
    key = generate_key(alg)
    kid = str(key.kid)
    now = now or utcnow()
    activates_at = activates_at or now
    row = SigningKey(
        kid=kid,
        alg=alg,
        state=NEXT if activates_at > now else ACTIVE,
        private_key_encrypted=encrypt_private_key(key.as_pem(private=True), kek, kid),
        created_at=now,
        activates_at=activates_at,
    )
    db.session.add(row)
    return row


class KeyTimes(Protocol):
    """What the states follow from: a stored row, or its snapshot in a process's cache."""

    @property
    def kid(self) -> str: ...
    @property
    def alg(self) -> str: ...
    @property
    def activates_at(self) -> datetime: ...
    @property
    def removed_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class KeyState:
    state: str
    retired_at: datetime | None  # when its successor activated (or will)
    removes_at: datetime | None  # when it leaves the JWKS: retired_at plus the retention


def derive_states(rows: Sequence[KeyTimes], now: datetime,
                  retention: timedelta) -> dict[str, KeyState]:
    """Each key's state at ``now``. Of one alg, a key retires when the next one activates
    and is removed ``retention`` later, once every token it signed has expired."""
    states: dict[str, KeyState] = {}
    for alg in {row.alg for row in rows}:
        group = sorted((r for r in rows if r.alg == alg), key=lambda r: r.activates_at)
        for row, successor in zip(group, [*group[1:], None], strict=True):
            retired_at = successor.activates_at if successor is not None else None
            removes_at = retired_at + retention if retired_at is not None else None
            states[row.kid] = KeyState(_state_at(row, now, retired_at, removes_at),
                                       retired_at, row.removed_at or removes_at)
    return states


def _state_at(row: KeyTimes, now: datetime, retired_at: datetime | None,
              removes_at: datetime | None) -> str:
    if row.removed_at is not None or (removes_at is not None and removes_at <= now):
        return REMOVED
    if row.activates_at > now:
        return NEXT
    if retired_at is not None and retired_at <= now:
        return RETIRED
    return ACTIVE


def retention(settings: Any) -> timedelta:
    """How long a retired key stays published: the longest lifetime of a token it signs
    (ID tokens, JWT access tokens, logout tokens)."""
    return timedelta(seconds=max(settings.id_token_lifetime, settings.access_token_lifetime,
                                 LOGOUT_TOKEN_LIFETIME))


@dataclass(frozen=True)
class CachedKey:
    kid: str
    alg: str
    activates_at: datetime
    removed_at: datetime | None
    key: JoseKey | None  # None once removed: its private part is gone


@dataclass
class KeyCache:
    version: tuple[int, int, int]
    keys: list[CachedKey]
    signing: dict[str, JoseKey]
    jwks: bytes
    etag: str
    changes_at: datetime | None  # the next time a state changes by itself


NEVER = float("-inf")  # a monotonic time before any other


class KeyStore:
    """Per-app key cache; one database round trip per ``recheck`` seconds at most, to
    notice another process's rotation by a version (count, newest id, removed count). A
    state that changes with time is rebuilt from the cache, without the database."""

    def __init__(self, kek: bytes, retention: timedelta,
                 clock: Callable[[], datetime] = utcnow,
                 recheck: float = RECHECK_SECONDS) -> None:
        self._kek = kek
        self._retention = retention
        self._recheck = max(recheck, 0.0)
        self.clock = clock  # tests replace it to move through a rotation
        self._cache: KeyCache | None = None
        # Never checked. Not 0.0: the monotonic clock counts from boot, so on a machine up
        # for less than ``recheck`` seconds 0.0 looked recent and ``invalidate`` did not
        # make the next use look in the database.
        self._checked = NEVER
        self._lock = threading.Lock()

    def signing_key(self, alg: str, now: datetime | None = None) -> JoseKey:
        return self._current(now).signing[alg]

    def jwks(self, now: datetime | None = None) -> tuple[bytes, str]:
        cache = self._current(now)
        return cache.jwks, cache.etag

    def states(self, rows: Sequence[KeyTimes], now: datetime | None = None) -> dict[str, KeyState]:
        return derive_states(rows, now or self.clock(), self._retention)

    def invalidate(self) -> None:
        self._checked = NEVER

    def fresh_etag(self) -> str | None:
        """The JWKS's ETag while the cache may be used without the database; None when
        the next use must look (``idp.prepared`` then lets Flask answer)."""
        cache = self._fresh(time.monotonic(), self.clock())
        return cache.etag if cache is not None else None

    def _fresh(self, tick: float, now: datetime) -> KeyCache | None:
        cache = self._cache
        if (cache is not None and tick - self._checked < self._recheck
                and (cache.changes_at is None or now < cache.changes_at)):
            return cache
        return None

    def _current(self, at: datetime | None) -> KeyCache:
        now = at or self.clock()
        tick = time.monotonic()
        cache = self._fresh(tick, now)
        if cache is not None:
            return cache
        with self._lock:
            if self._cache is None or tick - self._checked >= self._recheck:
                version = self._version()
                if self._cache is None or version != self._cache.version:
                    keys = self._load()
                    now = at or self.clock()  # keys made at first start sign at once
                    self._cache = self._build(keys, version, now)
                self._checked = tick
            if self._cache.changes_at is not None and now >= self._cache.changes_at:
                self._cache = self._build(self._cache.keys, self._cache.version, now)
            return self._cache

    @staticmethod
    def _version() -> tuple[int, int, int]:
        count, top, removed = db.session.execute(
            db.select(func.count(SigningKey.id), func.max(SigningKey.id),
                      func.count(SigningKey.removed_at))
        ).one()
        return int(count), int(top or 0), int(removed)

    def _load(self) -> list[CachedKey]:
        self.ensure_keys()
        rows = db.session.scalars(db.select(SigningKey).order_by(SigningKey.id)).all()
        return [CachedKey(row.kid, row.alg, row.activates_at, row.removed_at,
                          None if row.removed_at else load_key(row, self._kek))
                for row in rows]

    def _build(self, keys: list[CachedKey], version: tuple[int, int, int],
               now: datetime) -> KeyCache:
        states = self.states(keys, now)
        signing: dict[str, JoseKey] = {}
        public = []
        for entry in sorted(keys, key=lambda k: k.activates_at):
            if states[entry.kid].state == REMOVED or entry.key is None:
                continue
            if states[entry.kid].state == ACTIVE:
                signing[entry.alg] = entry.key
            public.append(entry.key.as_dict(private=False))
        body = json.dumps({"keys": public}, separators=(",", ":")).encode()
        etag = hashlib.sha256(body).hexdigest()[:32]
        times = [t for k in keys for t in (k.activates_at, states[k.kid].removes_at)
                 if t is not None and t > now]
        return KeyCache(version, keys, signing, body, etag, min(times, default=None))

    def ensure_keys(self) -> None:
        """Create a signing key for every supported alg that has none (first start).

        Several instances starting together on an empty table would each create their
        own keys and sign with a key the others do not publish until their next recheck:
        on PostgreSQL the creation is serialised by a transaction-level advisory lock, so
        the second instance finds the first one's keys and creates none."""
        if not self._missing_algs():
            return
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEYS_LOCK})
        for alg in self._missing_algs():  # again: another process may have made them
            create_signing_key(alg, self._kek)
        try:
            db.session.commit()  # also releases the lock
        except IntegrityError:  # pragma: no cover - two workers racing on random kids
            db.session.rollback()

    @staticmethod
    def _missing_algs() -> list[str]:
        present = set(
            db.session.scalars(
                db.select(SigningKey.alg).where(SigningKey.removed_at.is_(None))
            ).all()
        )
        return [alg for alg in SUPPORTED_ALGS if alg not in present]


def init_app(app: Flask) -> None:
    from idp.keys_cli import keys

    settings = app.extensions["idp.settings"]
    if settings.key_recheck_seconds < 0:
        raise ConfigError("IDP_KEY_RECHECK_SECONDS must be 0 or more seconds.")
    app.extensions["idp.keys"] = KeyStore(settings.kek_bytes, retention(settings),
                                          recheck=settings.key_recheck_seconds)
    app.cli.add_command(keys)


def key_store() -> KeyStore:
    store: KeyStore = current_app.extensions["idp.keys"]
    return store
