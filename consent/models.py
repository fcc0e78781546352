"""The consent record, after ISO/IEC TS 27560 and the Kantara consent receipt
(shared/SCOPES.md). One row per decision, never updated: a withdrawal, an expiry or a
change is a new record pointing to the one it ends. The current consent of a traveller
for a platform is the newest record of the pair."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, bindparam
from sqlalchemy.orm import Mapped, mapped_column

from idp.direct_sql import Columns, EntityRead
from idp.extensions import db, utcnow
from idp.types import UTCDateTime

SCHEMA_VERSION = "1.0"
GIVEN, EXTENDED, NARROWED, WITHDRAWN, EXPIRED = (
    "given", "extended", "narrowed", "withdrawn", "expired")
ENDED = (WITHDRAWN, EXPIRED)


def new_record_id() -> str:
    return str(uuid.uuid4())


class ConsentRecord(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "consent_record"
    __table_args__ = (Index("ix_consent_record_pair", "user_id", "client_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_record_id)
    schema_version: Mapped[str] = mapped_column(String(8), default=SCHEMA_VERSION)
    event_type: Mapped[str] = mapped_column(String(16))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    previous_record_id: Mapped[str | None] = mapped_column(String(36))
    # The traveller (erased with the account) and the sub released to the platform.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    # The controller as it was at that time; no foreign key, the proof outlives the client.
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    controller: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy_uri: Mapped[str | None] = mapped_column(String(500))
    tos_uri: Mapped[str | None] = mapped_column(String(500))
    scopes_granted: Mapped[list[str]] = mapped_column(JSON, default=list)
    claims_granted: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes_refused: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{"id": scope, "version": n, "sha256": digest of the exact text shown}]
    purposes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(16))
    collection_method: Mapped[str] = mapped_column(String(32), default="web")
    helper_id: Mapped[str | None] = mapped_column(String(64))
    mandate_id: Mapped[str | None] = mapped_column(String(64))
    consent_type: Mapped[str] = mapped_column(String(16), default="regular")
    lawful_basis: Mapped[str] = mapped_column(String(16), default="consent")
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    jurisdiction: Mapped[str] = mapped_column(String(8), default="FR")
    withdrawal_method: Mapped[str] = mapped_column(Text)
    # Issue 14: what this platform may do on other platforms' APIs for the traveller,
    # one entry per resource (consent.delegations.Delegation.as_entry).
    delegations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list,
                                                              server_default="[]")

    @property
    def active(self) -> bool:
        if self.event_type in ENDED:
            return False
        return self.valid_until is None or utcnow() < self.valid_until

    def as_receipt(self) -> dict[str, Any]:
        """The record as the JSON a receipt signs: every field, nothing internal."""
        return {
            "record_id": self.record_id,
            "schema_version": self.schema_version,
            "event_type": self.event_type,
            "event_time": self.event_time.isoformat(),
            "previous_record_id": self.previous_record_id,
            "sub": self.sub,
            "client_id": self.client_id,
            "controller": self.controller,
            "policy_uri": self.policy_uri,
            "tos_uri": self.tos_uri,
            "scopes_granted": self.scopes_granted,
            "claims_granted": self.claims_granted,
            "scopes_refused": self.scopes_refused,
            "purposes": self.purposes,
            "language": self.language,
            "collection_method": self.collection_method,
            "helper_id": self.helper_id,
            "mandate_id": self.mandate_id,
            "consent_type": self.consent_type,
            "lawful_basis": self.lawful_basis,
            "acr": self.acr,
            "amr": self.amr,
            "auth_time": self.auth_time.isoformat() if self.auth_time else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "jurisdiction": self.jurisdiction,
            "withdrawal_method": self.withdrawal_method,
            "delegations": list(self.delegations or []),
        }


def latest(user_id: int, client_id: str) -> ConsentRecord | None:
    return latest_of_pair().entity({"user_id": user_id, "client_id": client_id})


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def latest_of_pair() -> EntityRead[ConsentRecord]:
    return EntityRead(Columns(ConsentRecord),
                      (ConsentRecord.user_id == bindparam("user_id"))
                      & (ConsentRecord.client_id == bindparam("client_id")),
                      order_by=[ConsentRecord.id.desc()], limit=1)


def history(user_id: int, client_id: str | None = None) -> list[ConsentRecord]:
    query = db.select(ConsentRecord).where(ConsentRecord.user_id == user_id)
    if client_id is not None:
        query = query.where(ConsentRecord.client_id == client_id)
    return list(db.session.scalars(query.order_by(ConsentRecord.id)))


def current_by_client(user_id: int) -> dict[str, ConsentRecord]:
    """The newest record of each platform, in one query."""
    newest = (
        db.select(db.func.max(ConsentRecord.id))
        .where(ConsentRecord.user_id == user_id)
        .group_by(ConsentRecord.client_id)
    )
    rows = db.session.scalars(db.select(ConsentRecord).where(ConsentRecord.id.in_(newest)))
    return {row.client_id: row for row in rows}
