"""Connections the database dropped (a restart, a failover) while they sat in the pool
are replaced before a request uses them, without a ping on every checkout (issue 13):
only a connection idle for more than idp.db_pool.IDLE_CHECK is checked."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import Flask

from idp import db_pool
from idp.extensions import db
from tests.browser import Browser


def drop_connections(url: str) -> int:
    """What a database restart does to the app's pooled connections."""
    killer = sa.create_engine(url)
    with killer.connect() as connection:
        dropped = connection.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    killer.dispose()
    return int(dropped or 0)


@pytest.fixture
def postgres(app: Flask, database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no connections to drop")
    return database_url


def test_an_idle_connection_dropped_by_the_database_is_replaced_unseen(
        app: Flask, logged_in: Browser, postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_pool, "IDLE_CHECK", 0.2)
    db.session.remove()
    assert logged_in.get("/account").status_code == 200  # its connection, now idle
    assert drop_connections(postgres) >= 1
    time.sleep(0.3)
    for _ in range(3):
        response = logged_in.get("/account")
        assert response.status_code == 200, response.get_data(as_text=True)
    db.engine.dispose()  # other dropped ones may rest in the pool: not for the teardown


def test_a_connection_in_use_a_moment_ago_is_not_pinged(
        app: Flask, logged_in: Browser, postgres: str) -> None:
    """A busy worker pays no round trip: the ping runs only after IDLE_CHECK."""
    statements: list[str] = []
    db.session.remove()
    logged_in.get("/account")

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert logged_in.get("/account").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert "SELECT 1" not in [s.strip() for s in statements]
