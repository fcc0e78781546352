"""The audit log: an append-only table of consent events, each row chained to the one
before it by a SHA-256 hash over its canonical content.

An edit, an insertion or a deletion anywhere but at the very end breaks the chain, and
``verify`` names the first broken link. Publishing ``verify``'s head hash elsewhere now
and then also catches a truncated end. Rows name the traveller by a keyed pseudonym only:
they are never updated, so they must hold no directly identifying data from the start,
and account deletion then leaves a pseudonymous trail (GDPR Art. 17)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.accounts import events as account_events
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.types import UTCDateTime

# The typed tags of audit events.
CONSENT_GRANTED = "consent:granted"
CONSENT_SCOPE_ADDED = "consent:scope_added"
CONSENT_SCOPE_WITHDRAWN = "consent:scope_withdrawn"
CONSENT_REVOKED = "consent:revoked"
CONSENT_EXPIRED = "consent:expired"
RECEIPT_ISSUED = "receipt:issued"
DATA_EXPORTED = "data:exported"
ACCOUNT_DELETED = "account:deleted"
BACKCHANNEL_ATTEMPT = "backchannel:attempt"
AUDIT_CHECKPOINT = "audit:checkpoint"  # written by prune only
# Issue 14: a platform allowed, or no longer allowed, to act on another's API. Data: the
# record_id, resource, resource_client_id, actions, claims released, valid_until.
DELEGATION_GRANTED = "delegation:granted"
DELEGATION_STOPPED = "delegation:stopped"
# A security event pushed to a platform (idp.oauth.events), one per attempt; data as for
# BACKCHANNEL_ATTEMPT, the reason "delegation_stopped".
SECURITY_EVENT_ATTEMPT = "security_event:attempt"
# Assisted access (issue 12, consent.assisted): a mandate's life, and each action an
# advisor takes under one. Data: advisor_id (pseudonymous), mandate_id, method; never a name.
MANDATE_GRANTED = "mandate:granted"
MANDATE_REVOKED = "mandate:revoked"
MANDATE_EXPIRED = "mandate:expired"
ASSISTED_ACCOUNT_CREATED = "assisted:account_created"
ASSISTED_CONSENT_GIVEN = "assisted:consent_given"
ASSISTED_DETAILS_UPDATED = "assisted:details_updated"
ASSISTED_HISTORY_READ = "assisted:history_read"
ASSISTED_EVENTS = (MANDATE_GRANTED, MANDATE_REVOKED, MANDATE_EXPIRED, ASSISTED_ACCOUNT_CREATED,
                   ASSISTED_CONSENT_GIVEN, ASSISTED_DETAILS_UPDATED, ASSISTED_HISTORY_READ)
# Changes to how the traveller signs in or is reached (idp.accounts.events), one type each.
ACCOUNT_EVENTS = tuple(f"account:{event}" for event in account_events.EVENTS)
EVENT_TYPES = (CONSENT_GRANTED, CONSENT_SCOPE_ADDED, CONSENT_SCOPE_WITHDRAWN, CONSENT_REVOKED,
               CONSENT_EXPIRED, RECEIPT_ISSUED, DATA_EXPORTED, ACCOUNT_DELETED,
               BACKCHANNEL_ATTEMPT, AUDIT_CHECKPOINT, DELEGATION_GRANTED, DELEGATION_STOPPED,
               SECURITY_EVENT_ATTEMPT, *ACCOUNT_EVENTS, *ASSISTED_EVENTS)

GENESIS = "0" * 64  # the prev_hash of the first event ever written
HASH_MISMATCH = "hash mismatch"
PREV_HASH_MISMATCH = "prev_hash mismatch"
BATCH_SIZE = 1000
# Any fixed 64-bit number, the same in every process that appends ("idp.audi").
LOCK_KEY = 0x6964702E61756469
# The PostgreSQL trigger lets a DELETE through only in a transaction that sets this.
PRUNE_SETTING = "idp.audit_prune"
_PSEUDONYM_LABEL = b"mobility-id audit subject pseudonym v1"


class AuditError(Exception):
    """The audit log cannot do what was asked; the message says why."""


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_event"

    # The chain order: each event's prev_hash is the hash of the event with the id before.
    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    # No foreign key: the event outlives a deleted platform.
    client_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: the events that chain correctly, the hash of the last one,
    and the first broken link if any."""

    events: int
    head: str | None
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


@dataclass(frozen=True)
class PruneReport:
    removed: int
    before: datetime
    checkpoint_id: int | None = None
    last_removed_hash: str | None = None


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII only: the same content always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash(prev_hash: str, event_type: str, occurred_at: datetime, subject: str | None,
                 client_id: str | None, data: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON object of these six fields, ``occurred_at`` as
    ISO 8601 in UTC with microseconds: anyone can recompute it from an export."""
    content = {"prev_hash": prev_hash, "event_type": event_type,
               "occurred_at": iso_utc(occurred_at),
               "subject": subject, "client_id": client_id, "data": data}
    return hashlib.sha256(canonical_json(content).encode("ascii")).hexdigest()


def subject_pseudonym(user_or_subject: User | str) -> str:
    """HMAC-SHA256 of the traveller's stable ``User.subject``: the same for every event of
    one traveller, meaningless without the server's key."""
    subject = user_or_subject.subject if isinstance(user_or_subject, User) else user_or_subject
    if not subject:
        raise ValueError("an empty subject names no traveller")
    return hmac.new(_pseudonym_key(), subject.encode("utf-8"), hashlib.sha256).hexdigest()


def _pseudonym_key() -> bytes:
    # A key of its own, derived from IDP_SECRET_KEY, so that the pseudonyms say nothing
    # about the key that signs sessions. Rotating IDP_SECRET_KEY changes every pseudonym.
    secret = current_app.extensions["idp.settings"].secret_key.encode("utf-8")
    return hmac.new(secret, _PSEUDONYM_LABEL, hashlib.sha256).digest()


def record(event_type: str, *, user: User | None = None, subject: str | None = None,
           client_id: str | None = None, data: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append an event in the caller's transaction, flushed but never committed here: the
    caller commits it with the change it records, or rolls both back.

    ``subject`` is a traveller's ``User.subject``, for when the ``User`` is not at hand;
    the row stores only its pseudonym."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown audit event type {event_type!r}")
    if event_type == AUDIT_CHECKPOINT:
        raise ValueError("only prune writes checkpoints")
    if user is not None and subject is not None:
        raise ValueError("give the user or the subject, not both")
    content = _canonical_data(data)
    if user is not None and user.email.lower() in canonical_json(content).lower():
        # Rows are never rewritten: an email stored now could never be erased.
        raise ValueError("audit data must not contain the traveller's email")
    who = user if user is not None else subject
    pseudonym = None if who is None else subject_pseudonym(who)
    return _append(db.session(), event_type, pseudonym, client_id, content)


def _canonical_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    # Store exactly what the hash covers: JSON types only, string keys.
    canonical: dict[str, Any] = json.loads(canonical_json(dict(data or {})))
    return canonical


def _append(session: Session, event_type: str, subject: str | None, client_id: str | None,
            data: dict[str, Any]) -> AuditEvent:
    _serialize_appends(session)
    last = session.scalar(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(event_type=event_type, occurred_at=utcnow(), subject=subject,
                       client_id=client_id, data=data, prev_hash=last or GENESIS)
    event.hash = compute_hash(event.prev_hash, event.event_type, event.occurred_at,
                              event.subject, event.client_id, event.data)
    session.add(event)
    session.flush()
    return event


def _serialize_appends(session: Session) -> None:
    """Hold the append lock until the transaction ends, so that two appends never chain to
    the same event."""
    dialect = session.connection().dialect.name
    if dialect == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_KEY)))
    elif dialect == "sqlite":
        # SQLite lets one writer at a time, but a SELECT takes no write lock: an insert of
        # no row takes it before the last hash is read.
        session.execute(sa.text("INSERT INTO audit_event SELECT * FROM audit_event WHERE 0"))


def verify() -> ChainReport:
    """Walk the whole chain in id order, a batch at a time, and report the first event whose
    content does not match its hash or whose prev_hash is not the hash before it."""
    return _walk(db.session())


def _walk(session: Session) -> ChainReport:
    expected, events, after = _chain_start(session), 0, 0
    while batch := _batch(session, after):
        for row in batch:
            actual = compute_hash(row.prev_hash, row.event_type, row.occurred_at, row.subject,
                                  row.client_id, row.data)
            if actual != row.hash or row.prev_hash != expected:
                reason = HASH_MISMATCH if actual != row.hash else PREV_HASH_MISMATCH
                return ChainReport(events, expected if events else None, row.id, reason)
            expected, events, after = row.hash, events + 1, row.id
    return ChainReport(events, expected if events else None)


def _chain_start(session: Session) -> str:
    """After a prune, the first event left chains to the last one removed, whose hash the
    newest checkpoint records."""
    checkpoint = session.scalar(
        sa.select(AuditEvent.data)
        .where(AuditEvent.event_type == AUDIT_CHECKPOINT)
        .order_by(AuditEvent.id.desc()).limit(1)
    )
    if not isinstance(checkpoint, dict):
        return GENESIS
    return str(checkpoint.get("last_removed_hash"))


def _batch(session: Session, after: int, subject: str | None = None) -> list[sa.Row[Any]]:
    # Plain columns rather than entities: always the stored values, never a cached object.
    query = sa.select(*AuditEvent.__table__.columns).where(AuditEvent.id > after)
    if subject is not None:
        query = query.where(AuditEvent.subject == subject)
    return list(session.execute(query.order_by(AuditEvent.id).limit(BATCH_SIZE)).all())


def export(subject: User | str) -> Iterator[dict[str, Any]]:
    """A traveller's events, oldest first, as JSON-ready dicts. ``subject`` is the ``User``
    or the pseudonym stored in the events (``subject_pseudonym``), which outlives the
    account."""
    pseudonym = subject_pseudonym(subject) if isinstance(subject, User) else subject
    after = 0
    while batch := _batch(db.session(), after, pseudonym):
        for row in batch:
            yield {"id": row.id, "event_type": row.event_type,
                   "occurred_at": iso_utc(row.occurred_at),
                   "subject": row.subject, "client_id": row.client_id, "data": row.data,
                   "prev_hash": row.prev_hash, "hash": row.hash}
        after = batch[-1].id


def prune(before: datetime) -> PruneReport:
    """Remove the events older than ``before``, in a transaction of its own that it commits,
    and append a checkpoint recording the hash of the last one removed, so that what is
    left still verifies. Refuses a future date and a broken chain (the evidence stays)."""
    if before.tzinfo is None:
        raise ValueError("naive datetime; give the cut date in UTC")
    if before > utcnow():
        raise AuditError("the cut date is in the future: only past events can be pruned")
    with Session(db.engine) as session, session.begin():
        _serialize_appends(session)
        if session.connection().dialect.name == "postgresql":
            session.execute(sa.text(f"SET LOCAL {PRUNE_SETTING} = 'on'"))
        chain = _walk(session)
        if not chain.ok:
            raise AuditError(f"the chain is broken at event {chain.broken_id} "
                             f"({chain.reason}); nothing pruned")
        return _cut(session, before)


def _cut(session: Session, before: datetime) -> PruneReport:
    # Cut before the first event at or after the date: what goes is always a prefix of the
    # chain, even if servers' clocks disagreed a little.
    first_kept = session.scalar(sa.select(sa.func.min(AuditEvent.id))
                                .where(AuditEvent.occurred_at >= before))
    query = sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    if first_kept is not None:
        query = query.where(AuditEvent.id < first_kept)
    last = session.execute(query).first()
    if last is None:
        return PruneReport(0, before)
    removed = session.scalar(sa.select(sa.func.count()).where(AuditEvent.id <= last.id)) or 0
    checkpoint = _append(session, AUDIT_CHECKPOINT, None, None, {
        "before": before.astimezone(UTC).isoformat(), "last_removed_id": last.id,
        "last_removed_hash": last.hash, "removed": removed,
    })
    session.execute(sa.delete(AuditEvent.__table__).where(AuditEvent.id <= last.id))
    return PruneReport(removed, before, checkpoint.id, last.hash)
