"""Subject identifiers (OIDC Core 8): the `sub` each platform sees.

Pairwise by default (OIDC Core 8.1): every sector gets its own stable `sub`, an HMAC of
the sector and the traveller's internal subject under a key derived from the provider's
secret key, so platforms of different sectors cannot link a traveller by it and nobody
can reverse it. The operator may grant public subjects to a client."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import ForeignKey, String, UniqueConstraint, bindparam
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from idp.accounts.models import User
from idp.db_pool import insert_alone
from idp.direct_sql import DirectRead, DirectWrite
from idp.extensions import db, utcnow
from idp.oauth.models import Client
from idp.settings import is_loopback
from idp.types import UTCDateTime

PAIRWISE = "pairwise"
PUBLIC = "public"
SUBJECT_TYPES = (PAIRWISE, PUBLIC)
# Domain separation: the secret key serves sessions too; this use gets its own key.
KEY_LABEL = b"mobility-id:pairwise-subject:v1"
# Pairs known to be stored, so serving a sub costs no query. The sub is part of the key:
# a row id reused after an account's deletion never passes for the old traveller.
KNOWN_LIMIT = 100_000
KNOWN = "idp.subjects"  # the app extension holding them


class PairwiseSubject(db.Model):  # type: ignore[name-defined,misc]
    """A pairwise `sub` once issued: lets a platform's `sub` lead back to the traveller
    in one indexed query (the HMAC cannot be reversed)."""

    __tablename__ = "pairwise_subject"
    __table_args__ = (UniqueConstraint("user_id", "sector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    sector: Mapped[str] = mapped_column(String(255))
    sub: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def host_of(uri: str) -> str:
    """The host of a web URI; for a native app's private-use scheme (RFC 8252 7.1,
    ``org.example.app:/cb``) the scheme itself, a reverse domain name owned by the app."""
    parts = urlsplit(uri)
    return (parts.hostname or parts.scheme).lower()


def sector_of(client: Client) -> str:
    """OIDC Core 8.1: the host of the sector_identifier_uri, or else of the redirect URIs
    (registration refuses several redirect hosts without a sector_identifier_uri)."""
    return sector_for(client.client_id, client.sector_identifier_uri, client.redirect_uris,
                      client.application_type)


def sector_for(client_id: str, sector_identifier_uri: str | None, redirect_uris: list[str],
               application_type: str) -> str:
    return _sector(client_id, sector_identifier_uri, tuple(redirect_uris), application_type)


# Computed per request for every pairwise `sub` served (userinfo, introspection, ID
# tokens): parsing the redirect URIs and the HMAC were a third of userinfo's claims
# (issue 13, part 5). Both are functions of their arguments alone, every input part of
# the key, so a platform's new redirect URIs or sector get a new entry, never an old
# answer; the caches are bounded (least recently used out).
SECTORS_KEPT = 1024  # platforms
SUBJECTS_KEPT = 16_384  # (sector, traveller) pairs: about 2 MiB


@functools.lru_cache(maxsize=SECTORS_KEPT)
def _sector(client_id: str, sector_identifier_uri: str | None, redirect_uris: tuple[str, ...],
            application_type: str) -> str:
    if sector_identifier_uri:
        return host_of(sector_identifier_uri)
    hosts = [host for host in map(host_of, sector_uris(redirect_uris, application_type)) if host]
    return hosts[0] if hosts else client_id


def sector_uris(redirect_uris: Sequence[str], application_type: str) -> list[str]:
    """The redirect URIs that name the platform's sector. A native app's loopback URIs
    (RFC 8252 7.3) name none: every app on every phone listens on 127.0.0.1, so such an
    app alone is its own sector rather than sharing 127.0.0.1 with all the others."""
    if application_type != "native":
        return list(redirect_uris)
    return [uri for uri in redirect_uris if not is_loopback(host_of(uri))]


def pairwise_key() -> bytes:
    return pairwise_key_of(current_app.extensions["idp.settings"].secret_key)


@functools.lru_cache(maxsize=4)  # a function of the secret key alone (issue 13)
def pairwise_key_of(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), KEY_LABEL, hashlib.sha256).digest()


@functools.lru_cache(maxsize=SUBJECTS_KEPT)
def generate_pairwise_sub(sector: str, subject: str, key: bytes) -> str:
    # The separator keeps ("a.b", "c") and ("a", ".bc") apart; a host has no "|".
    mac = hmac.new(key, f"{sector}|{subject}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def subject_for(user: User, client: Client) -> str:
    """The `sub` this platform sees for this traveller (OIDC Core 8)."""
    sub, sector = computed_subject(user, client, pairwise_key())
    if sector is not None:
        save_pairwise_subject(user.id, sector, sub)
    return sub


def computed_subject(user: User, client: Client, key: bytes) -> tuple[str, str | None]:
    """The `sub`, and the sector of a pairwise one (None for a public one)."""
    if client.subject_type == PUBLIC:
        return user.subject, None
    sector = sector_of(client)
    return generate_pairwise_sub(sector, user.subject, key), sector


def stored_subject(app: Flask, user: User, client: Client, key: bytes) -> str | None:
    """The `sub`, when serving it needs nothing from the database: a public one, or a
    pairwise one this process knows is stored (:func:`save_pairwise_subject`); else
    None."""
    sub, sector = computed_subject(user, client, key)
    if sector is None or (user.id, sector, sub) in app.extensions.get(KNOWN, ()):
        return sub
    return None


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def pairwise_row() -> DirectRead:
    return DirectRead(db.select(PairwiseSubject.id).where(
        PairwiseSubject.user_id == bindparam("user_id"),
        PairwiseSubject.sector == bindparam("sector")))


def save_pairwise_subject(user_id: int, sector: str, sub: str) -> None:
    """Store the pair in the caller's transaction, once: an insert that ignores a row
    already there (two requests may race), skipped once the row is seen to exist."""
    known: set[tuple[int, str, str]] = current_app.extensions.setdefault(KNOWN, set())
    if (user_id, sector, sub) in known:
        return
    exists = pairwise_row().first({"user_id": user_id, "sector": sector})
    if exists is not None:
        _remember(known, (user_id, sector, sub))
        return
    pairwise_insert(db.session.get_bind().dialect.name).run(
        {"user_id": user_id, "sector": sector, "sub": sub, "created_at": utcnow()})


def store_subject_alone(app: Flask, connection: sa.Connection, user_id: int, sector: str,
                        sub: str) -> None:
    """Store the pair on ``connection`` (outside any session, PostgreSQL), as a
    transaction of its own: one INSERT that ignores a row already there, one round trip.
    For an answer made under Flask (``idp.oauth.refresh_direct``) that computed a
    pairwise ``sub`` this process does not know to be stored."""
    insert_alone(connection)
    pairwise_insert(connection.dialect.name).run(
        {"user_id": user_id, "sector": sector, "sub": sub, "created_at": utcnow()},
        connection)
    _remember(app.extensions.setdefault(KNOWN, set()), (user_id, sector, sub))


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def pairwise_insert(dialect: str) -> DirectWrite:
    """The pair's INSERT, which ignores a row already there (two requests may race)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return DirectWrite(insert(PairwiseSubject).values(
        user_id=bindparam("user_id"), sector=bindparam("sector"), sub=bindparam("sub"),
        created_at=bindparam("created_at")).on_conflict_do_nothing())


def _remember(known: set[tuple[int, str, str]], pair: tuple[int, str, str]) -> None:
    if len(known) >= KNOWN_LIMIT:
        known.clear()
    known.add(pair)


def query_user_by_sub(client: Client, sub: str) -> User | None:
    """The traveller a platform knows by ``sub``, in one indexed query."""
    if client.subject_type == PUBLIC:
        return db.session.scalar(db.select(User).where(User.subject == sub))
    return db.session.scalar(
        db.select(User).join(PairwiseSubject, PairwiseSubject.user_id == User.id)
        .where(PairwiseSubject.sub == sub, PairwiseSubject.sector == sector_of(client))
    )
