"""On PostgreSQL a request's transaction begins at its first write (issue 13, part 5).

psycopg sends BEGIN as a round trip of its own before a transaction's first statement,
and COMMIT or ROLLBACK as another at its end: userinfo, which reads one row, paid three
round trips for one query, and at a ROLLBACK psycopg forgot its prepared statements.
The engine now runs in autocommit, and ``idp.db_pool`` sends BEGIN just before the
first statement that writes or locks: a request that only reads makes no transaction at
all, and everything a request writes is still committed, or thrown away, together.

Round trips are counted in libpq's own trace of the messages sent to the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from consent import audit
from idp.db_pool import needs_transaction
from idp.extensions import commit_keeping_loaded, db, insert_and_commit, utcnow
from idp.oauth.dpop import UsedProof
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.tokens import basic, issue_tokens, redeem


@pytest.fixture
def postgres(app: Flask, database_url: str) -> Flask:
    if not database_url.startswith("postgresql"):
        pytest.skip("transactions begin lazily on PostgreSQL (psycopg); SQLite is the demo's")
    return app


@contextmanager
def messages(tmp_path: Path) -> Iterator[list[str]]:
    """The messages sent to PostgreSQL on the connections checked out meanwhile, as
    "Query BEGIN", "Parse", "Sync"... (libpq's trace, frontend side only)."""
    from psycopg import pq

    path = tmp_path / "libpq.trace"
    sent: list[str] = []
    with path.open("w") as trace:
        def checkout(dbapi: Any, record: Any, proxy: Any) -> None:
            dbapi.pgconn.trace(trace.fileno())
            dbapi.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        def checkin(dbapi: Any, record: Any) -> None:
            dbapi.pgconn.untrace()

        db.session.remove()
        sa.event.listen(db.engine, "checkout", checkout)
        sa.event.listen(db.engine, "checkin", checkin)
        try:
            yield sent
        finally:
            db.session.remove()
            sa.event.remove(db.engine, "checkout", checkout)
            sa.event.remove(db.engine, "checkin", checkin)
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "F":
            words = parts[3].strip().strip('"').split() if len(parts) > 3 else []
            head = words[0].upper() if words and parts[2] == "Query" else ""
            sent.append(f"{parts[2]} {head}".strip())


def round_trips(sent: list[str]) -> int:
    """A simple query is one round trip; an extended one ends with its Sync."""
    return sum(1 for m in sent if m.startswith(("Query", "Sync")))


def test_userinfo_is_one_round_trip(postgres: Flask, logged_in: Browser, platform: Platform,
                                    tmp_path: Path) -> None:
    tokens = issue_tokens(logged_in, platform)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    with messages(tmp_path) as sent:
        assert logged_in.client.get("/userinfo", headers=bearer).status_code == 200
    assert round_trips(sent) == 1, sent
    assert not [m for m in sent if m.startswith("Query")], sent  # no BEGIN, COMMIT, ROLLBACK


def test_introspection_is_one_round_trip(postgres: Flask, logged_in: Browser,
                                          platform: Platform, tmp_path: Path) -> None:
    tokens = issue_tokens(logged_in, platform)
    with messages(tmp_path) as sent:
        answer = logged_in.client.post("/introspect", data={"token": tokens["access_token"]},
                                       headers=basic(platform))
        assert answer.get_json()["active"] is True
    assert round_trips(sent) == 1, sent  # the token with its platform


def test_a_refresh_spends_and_writes_in_one_statement(postgres: Flask, logged_in: Browser,
                                                     platform: Platform,
                                                     tmp_path: Path) -> None:
    """The old refresh token spent and the new one written by one statement (an UPDATE
    in a WITH, the INSERT selecting from what it spent): atomic on its own, so no BEGIN
    and no COMMIT round trips. The token read, then that statement: two round trips."""
    tokens = issue_tokens(logged_in, platform)
    with messages(tmp_path) as sent:
        renewed = logged_in.client.post("/token", headers=basic(platform), data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert renewed.status_code == 200, renewed.get_json()
    assert not [m for m in sent if m.startswith("Query")], sent
    assert round_trips(sent) == 2, sent


def test_a_code_is_spent_and_its_tokens_written_in_one_statement(
        postgres: Flask, logged_in: Browser, platform: Platform, tmp_path: Path) -> None:
    """As a refresh: the code with its traveller and platform, then one statement that
    spends the code and writes the tokens. No BEGIN, no COMMIT."""
    issue_tokens(logged_in, platform)  # the consent, given once
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email offline_access")
    page = logged_in.authorize(request)
    assert page.status_code == 302
    with messages(tmp_path) as sent:
        answer = redeem(logged_in.client, platform, query_of(page.location)["code"],
                        request.verifier)
        assert answer.status_code == 200, answer.get_json()
    assert not [m for m in sent if m.startswith("Query")], sent
    assert round_trips(sent) == 2, sent


def test_a_request_writing_one_row_opens_no_transaction(postgres: Flask, tmp_path: Path,
                                                        client: FlaskClient) -> None:
    """Client credentials reads the platform and writes one token: the INSERT is a
    transaction of its own, with no BEGIN and no COMMIT round trips."""
    backend = make_platform(grant_types=["authorization_code", "client_credentials"])
    with messages(tmp_path) as sent:
        answer = client.post("/token", headers=basic(backend), data={
            "grant_type": "client_credentials", "scope": "consent:read"})
        assert answer.status_code == 200, answer.get_json()
    assert not [m for m in sent if m.startswith("Query")], sent
    assert round_trips(sent) == 2, sent  # the platform, the token


def test_a_signed_in_authorization_writes_its_code_alone(
        postgres: Flask, logged_in: Browser, platform: Platform, tmp_path: Path) -> None:
    issue_tokens(logged_in, platform)  # the consent, given once
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email offline_access")
    with messages(tmp_path) as sent:
        assert logged_in.authorize(request).status_code == 302
    assert not [m for m in sent if m.startswith("Query")], sent


def test_a_lone_row_written_alone_is_still_all_or_nothing(postgres: Flask) -> None:
    """A row refused by the database (a duplicate) leaves nothing behind, and the next
    write of the session is in a transaction again."""
    with postgres.app_context():
        db.session.add(proof(5))
        commit_keeping_loaded()
        db.session.add(proof(5))
        with pytest.raises(sa.exc.IntegrityError):
            commit_keeping_loaded()
        db.session.rollback()
        db.session.add(proof(6))
        db.session.add(proof(7))
        commit_keeping_loaded()
        assert proofs() == 3


def test_a_row_inserted_alone_or_with_the_pending_changes(postgres: Flask,
                                                         tmp_path: Path) -> None:
    """``insert_and_commit``: alone, one INSERT and no transaction; with a change
    pending, both in one transaction; refused (a duplicate), nothing left behind."""
    with postgres.app_context():
        with messages(tmp_path) as alone:
            insert_and_commit(UsedProof, proof_values(8))
        with messages(tmp_path) as together:
            db.session.add(proof(9))
            insert_and_commit(UsedProof, proof_values(10))
        with pytest.raises(sa.exc.IntegrityError):
            insert_and_commit(UsedProof, proof_values(10))
        db.session.rollback()
        assert proofs() == 3
    assert not [m for m in alone if m.startswith("Query")], alone
    assert [m for m in together if m.startswith("Query")] == ["Query BEGIN", "Query COMMIT"]


def proof_values(n: int) -> dict[str, Any]:
    return {"proof_hash": f"{n:064d}", "expires_at": utcnow() + timedelta(minutes=5)}


def proof(n: int) -> UsedProof:
    return UsedProof(proof_hash=f"{n:064d}", expires_at=utcnow() + timedelta(minutes=5))


def proofs() -> int:
    count = db.session.scalar(sa.select(sa.func.count()).select_from(UsedProof))
    db.session.rollback()
    return int(count or 0)


def test_what_a_request_writes_is_thrown_away_together(postgres: Flask) -> None:
    """A read, two writes, then a failure: neither write stays."""
    with pytest.raises(RuntimeError), postgres.test_request_context("/"):
        db.session.scalar(sa.select(UsedProof.id))
        db.session.add(proof(1))
        db.session.flush()
        db.session.add(proof(2))
        db.session.flush()
        raise RuntimeError("the view failed")
    with postgres.app_context():
        assert proofs() == 0


def test_a_write_left_uncommitted_is_thrown_away(postgres: Flask) -> None:
    with postgres.test_request_context("/"):
        db.session.add(proof(3))
        db.session.flush()  # written to the transaction, never committed
    with postgres.app_context():
        assert proofs() == 0


def test_a_savepoint_rolled_back_keeps_the_rest(postgres: Flask) -> None:
    with postgres.app_context():
        db.session.add(proof(4))
        db.session.flush()
        with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
            db.session.add(proof(4))  # the same digest: refused, back to the savepoint
            db.session.flush()
        db.session.commit()
        assert proofs() == 1


def test_a_transaction_lock_is_held_until_the_commit(postgres: Flask) -> None:
    """pg_advisory_xact_lock is read with SELECT but needs the transaction to last: the
    audit chain's appends are serialised by it."""
    with postgres.app_context():
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(audit.LOCK_KEY)))
        taken: list[bool] = []

        def other() -> None:
            with postgres.app_context():
                taken.append(bool(db.session.scalar(
                    sa.select(sa.func.pg_try_advisory_xact_lock(audit.LOCK_KEY)))))
                db.session.rollback()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert taken == [False]  # still held by this transaction
        db.session.commit()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert taken == [False, True]


@pytest.mark.parametrize(("statement", "expected"), [
    ("SELECT token.id FROM token WHERE token.access_token_hash = %(h)s", False),
    ("  select 1", False),
    ("SHOW transaction_isolation", False),
    ("SELECT outbox_message.id FROM outbox_message FOR UPDATE SKIP LOCKED", True),
    ("SELECT consent_record.id FROM consent_record FOR NO KEY UPDATE", True),
    ("SELECT a.id FROM a FOR SHARE", True),
    ("SELECT pg_advisory_xact_lock(%(key)s) AS pg_advisory_xact_lock_1", True),
    ("WITH gone AS (DELETE FROM token RETURNING id) SELECT count(*) FROM gone", True),
    ("INSERT INTO token (id) VALUES (1)", True),
    ("UPDATE token SET revoked_at = now()", True),
    ("DELETE FROM token", True),
    ("SAVEPOINT sa_savepoint_1", True),
    ("SET LOCAL idp.prune = 'on'", True),
    ("CREATE TABLE t (id int)", True),
])
def test_which_statements_begin_the_transaction(statement: str, expected: bool) -> None:
    assert needs_transaction(statement) is expected
