"""Signing keys: generated at first need, stored encrypted with the key-encryption key,
decrypted once per process and published as a JWKS."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import LargeBinary, String, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db, utcnow
from idp.types import UTCDateTime

SUPPORTED_ALGS = ("RS256", "ES256")
DEFAULT_ALG = "RS256"
# How often a process looks for keys added by another process (a rotation, another worker).
RECHECK_SECONDS = 30.0

JoseKey = RSAKey | ECKey


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(10), index=True)
    state: Mapped[str] = mapped_column(String(16), default="active")
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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


def create_signing_key(alg: str, kek: bytes) -> SigningKey:
    key = generate_key(alg)
    kid = str(key.kid)
    row = SigningKey(
        kid=kid,
        alg=alg,
        private_key_encrypted=encrypt_private_key(key.as_pem(private=True), kek, kid),
    )
    db.session.add(row)
    return row


@dataclass
class KeyCache:
    version: tuple[int, int]
    signing: dict[str, JoseKey]
    jwks: bytes
    etag: str


class KeyStore:
    """Per-app key cache; one database round trip per RECHECK_SECONDS at most."""

    def __init__(self, kek: bytes) -> None:
        self._kek = kek
        self._cache: KeyCache | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def signing_key(self, alg: str) -> JoseKey:
        return self._current().signing[alg]

    def jwks(self) -> tuple[bytes, str]:
        cache = self._current()
        return cache.jwks, cache.etag

    def invalidate(self) -> None:
        self._checked = 0.0

    def _current(self) -> KeyCache:
        now = time.monotonic()
        if self._cache is not None and now - self._checked < RECHECK_SECONDS:
            return self._cache
        with self._lock:
            version = self._version()
            if self._cache is None or version != self._cache.version:
                self._cache = self._load()
            self._checked = now
            return self._cache

    @staticmethod
    def _version() -> tuple[int, int]:
        count, top = db.session.execute(
            db.select(func.count(SigningKey.id), func.max(SigningKey.id))
        ).one()
        return int(count), int(top or 0)

    def _load(self) -> KeyCache:
        self.ensure_keys()
        rows = db.session.scalars(
            db.select(SigningKey).where(SigningKey.state == "active").order_by(SigningKey.id)
        ).all()
        signing: dict[str, JoseKey] = {}
        public = []
        for row in rows:
            key = load_key(row, self._kek)
            signing.setdefault(row.alg, key)  # the oldest active key of each alg signs
            public.append(key.as_dict(private=False))
        body = json.dumps({"keys": public}, separators=(",", ":")).encode()
        etag = hashlib.sha256(body).hexdigest()[:32]
        return KeyCache(self._version(), signing, body, etag)

    def ensure_keys(self) -> None:
        """Create a signing key for every supported alg that has none (first start)."""
        present = set(
            db.session.scalars(
                db.select(SigningKey.alg).where(SigningKey.state == "active")
            ).all()
        )
        missing = [alg for alg in SUPPORTED_ALGS if alg not in present]
        if not missing:
            return
        for alg in missing:
            create_signing_key(alg, self._kek)
        try:
            db.session.commit()
        except IntegrityError:  # pragma: no cover - two workers racing on random kids
            db.session.rollback()


def init_app(app: Flask) -> None:
    app.extensions["idp.keys"] = KeyStore(app.extensions["idp.settings"].kek_bytes)


def key_store() -> KeyStore:
    store: KeyStore = current_app.extensions["idp.keys"]
    return store
