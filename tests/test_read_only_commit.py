"""A request's transaction that only read is committed, not rolled back (issue 13):
psycopg forgets its prepared statements at every ROLLBACK, so the hot queries of
read-only requests were parsed and planned again at every request. Anything written
and not committed by the request is still thrown away, as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from idp.extensions import db, utcnow
from idp.oauth.dpop import UsedProof


@contextmanager
def endings() -> Iterator[list[str]]:
    seen: list[str] = []

    def commit(conn: object) -> None:
        seen.append("commit")

    def rollback(conn: object) -> None:
        seen.append("rollback")

    sa.event.listen(db.engine, "commit", commit)
    sa.event.listen(db.engine, "rollback", rollback)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "commit", commit)
        sa.event.remove(db.engine, "rollback", rollback)


def proofs() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(UsedProof)) or 0)


def proof() -> UsedProof:
    return UsedProof(proof_hash="d" * 64, expires_at=utcnow() + timedelta(minutes=5))


def test_a_request_that_only_read_commits(app: Flask) -> None:
    with endings() as seen, app.test_request_context("/userinfo"), app.app_context():
        db.session.scalar(sa.select(UsedProof.id))
    assert seen == ["commit"]


def test_a_write_left_uncommitted_is_still_thrown_away(app: Flask) -> None:
    with endings() as seen, app.test_request_context("/"), app.app_context():
        db.session.add(proof())
        db.session.flush()  # written to the transaction, never committed
        db.session.scalar(sa.select(UsedProof.id))
    assert seen == ["rollback"] and proofs() == 0


def test_a_pending_object_is_not_saved_by_the_ending(app: Flask) -> None:
    with endings() as seen, app.test_request_context("/"), app.app_context():
        db.session.scalar(sa.select(UsedProof.id))
        db.session.add(proof())  # added, not flushed: the close discards it
    assert seen == ["rollback"] and proofs() == 0


def test_a_failed_request_rolls_back(app: Flask) -> None:
    with pytest.raises(RuntimeError), endings() as seen, \
            app.test_request_context("/"), app.app_context():
        db.session.scalar(sa.select(UsedProof.id))
        raise RuntimeError("the view failed")
    assert seen == ["rollback"]
