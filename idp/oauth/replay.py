"""Values that may be used once (a DPoP proof's ``jti``, a request object's ``jti``),
kept by digest in the database until they expire, so that several instances agree.

A unique constraint refuses the second use, even when two instances race. Expired rows
are deleted at most once a minute per process: the check of every proof is then one
INSERT, not a DELETE scanning the table as well."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from idp.extensions import db, utcnow

PURGE_INTERVAL = 60  # seconds between two purges of a table, per process


def remember_once(row: Any) -> bool:
    """Store ``row`` (a model with a unique digest and ``expires_at``); False when the
    same value was stored before and has not expired yet."""
    purge_expired(type(row))
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        db.session.commit()
        return False
    db.session.commit()
    return True


def purge_expired(model: Any) -> None:
    """Delete the expired rows of ``model``, unless this process did so recently."""
    purged: dict[str, float] = current_app.extensions.setdefault("idp.replay_purged", {})
    now = time.time()
    last = purged.get(model.__tablename__)
    if last is not None and 0 <= now - last < PURGE_INTERVAL:
        return
    purged[model.__tablename__] = now
    db.session.execute(delete(model).where(model.expires_at < utcnow())
                       .execution_options(synchronize_session=False))
