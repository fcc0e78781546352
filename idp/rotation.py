"""Rotating signing keys (``idp keys rotate``): a new key is published before it signs,
and the key it replaces stays published until every token it signed has expired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from idp.extensions import db
from idp.keys import (
    ACTIVE,
    NEXT,
    REMOVED,
    RETIRED,
    SUPPORTED_ALGS,
    SigningKey,
    create_signing_key,
    key_store,
)


class RotationError(ValueError):
    """A rotation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Rotation:
    key: SigningKey
    replaces: str | None  # the kid of the key it will replace


def query_keys() -> list[SigningKey]:
    return list(db.session.scalars(db.select(SigningKey).order_by(SigningKey.id)).all())


def sync_states(now: datetime | None = None) -> list[SigningKey]:
    """Record each key's state as of ``now`` (serving does not need it: it derives the
    states itself). A removed key's private part is erased: it can never sign again."""
    rows = query_keys()
    states = key_store().states(rows, now)
    for row in rows:
        state = states[row.kid]
        row.state = state.state
        row.retired_at = state.retired_at if state.state in (RETIRED, REMOVED) else None
        if state.state == REMOVED and row.removed_at is None:
            row.removed_at = state.removes_at
            row.private_key_encrypted = b""
    return rows


def rotate(alg: str, delay: int | None = None, now: datetime | None = None) -> Rotation:
    """Create the next key of ``alg``, published at once, signing ``delay`` seconds later
    (``key_publish_delay`` by default). One waiting key per alg at a time."""
    if alg not in SUPPORTED_ALGS:
        raise RotationError(f"unsupported algorithm {alg}; use {' or '.join(SUPPORTED_ALGS)}.")
    settings = current_app.extensions["idp.settings"]
    delay = settings.key_publish_delay if delay is None else delay
    if delay < 0:
        raise RotationError("the publish delay cannot be negative.")
    now = now or key_store().clock()
    rows = [row for row in sync_states(now) if row.alg == alg]
    if any(row.state == NEXT for row in rows):
        raise RotationError(f"a {alg} key is already waiting to activate; let it activate first.")
    current = next((row.kid for row in rows if row.state == ACTIVE), None)
    row = create_signing_key(alg, settings.kek_bytes, now + timedelta(seconds=delay), now)
    db.session.flush()
    sync_states(now)
    db.session.commit()
    key_store().invalidate()
    current_app.logger.info("signing key %s (%s) activates in %ss", row.kid, alg, delay)
    return Rotation(row, current)


def describe(row: SigningKey) -> dict[str, Any]:
    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"kid": row.kid, "alg": row.alg, "state": row.state,
            "created_at": stamp(row.created_at), "activates_at": stamp(row.activates_at),
            "retired_at": stamp(row.retired_at), "removed_at": stamp(row.removed_at)}
