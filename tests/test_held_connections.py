"""One pooled connection per thread, kept between the requests answered under Flask
(idp.db_pool.HeldConnections, issue 13): reused without a checkout, and given back to
the pool whenever the pool's own care is needed (idle, old, broken, inside a
transaction, the engine disposed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from idp import db_pool
from idp.extensions import db
from tests.test_database_disconnect import drop_connections


@pytest.fixture
def held(app: Flask) -> db_pool.HeldConnections:
    found: db_pool.HeldConnections = app.extensions["idp.held_connections"]
    return found


@pytest.fixture
def checkouts(app: Flask) -> Iterator[list[int]]:
    """How many times the pool handed out a connection."""
    counted: list[int] = []

    def count(*args: object) -> None:
        counted.append(1)

    sa.event.listen(db.engine, "checkout", count)
    yield counted
    sa.event.remove(db.engine, "checkout", count)


def backend(connection: sa.Connection) -> object:
    """Which server connection this is (PostgreSQL's backend pid; SQLite's handle)."""
    if connection.dialect.name != "postgresql":
        return id(connection.connection.dbapi_connection)
    cursor = connection.connection.dbapi_connection.cursor()  # as idp.direct_sql reads
    try:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]
    finally:
        cursor.close()


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_a_thread_uses_its_connection_again_without_a_checkout(
        held: db_pool.HeldConnections, checkouts: list[int]) -> None:
    with held.connection() as connection:
        first = backend(connection)
    assert len(checkouts) == 1
    for _ in range(3):
        with held.connection() as connection:
            assert backend(connection) == first
    assert len(checkouts) == 1


def test_two_threads_hold_two_connections(held: db_pool.HeldConnections) -> None:
    seen: list[object] = []
    ready = threading.Barrier(2)

    def use() -> None:
        with held.connection() as connection:
            ready.wait(timeout=10)  # both at once
            seen.append(backend(connection))

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 2 and seen[0] != seen[1]


def test_an_error_gives_the_connection_back_and_the_next_use_works(
        held: db_pool.HeldConnections, checkouts: list[int]) -> None:
    with pytest.raises(sa.exc.DBAPIError), held.connection() as connection:
        connection.exec_driver_sql("SELECT * FROM no_such_table")
    with held.connection() as connection, connection.begin():
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    assert len(checkouts) == 2  # a second one from the pool: the first went back


def test_a_transaction_left_open_is_rolled_back_by_the_pool(
        held: db_pool.HeldConnections, checkouts: list[int]) -> None:
    """Whatever the caller forgot to end is not carried into the next request."""
    with held.connection() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        if on_postgresql():
            cursor.execute("BEGIN")
        cursor.execute("CREATE TEMP TABLE left_open (id integer)")
        cursor.execute("INSERT INTO left_open VALUES (1)")
        cursor.close()
    with held.connection() as connection:
        assert db_pool._idle(connection.connection.dbapi_connection)  # noqa: SLF001
    assert len(checkouts) == 2  # not kept: it went back to the pool, which reset it


def test_an_idle_connection_the_database_dropped_is_replaced(
        app: Flask, held: db_pool.HeldConnections, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if not on_postgresql():
        pytest.skip("a SQLite file has no connections to drop")
    monkeypatch.setattr(db_pool, "IDLE_CHECK", 0.2)
    with held.connection() as connection:
        first = backend(connection)
    assert drop_connections(database_url) >= 1
    time.sleep(0.3)
    with held.connection() as connection:
        assert backend(connection) != first  # pinged, found dead, replaced
    db.engine.dispose()  # other dropped ones may rest in the pool: not for the teardown


def test_a_busy_connection_is_not_pinged(held: db_pool.HeldConnections) -> None:
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with held.connection():
        pass
    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with held.connection():
            pass
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == []


def test_an_old_connection_goes_back_to_the_pool(
        held: db_pool.HeldConnections, checkouts: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with held.connection():
        pass
    monkeypatch.setattr(db_pool, "RECYCLE", 0)
    with held.connection():
        pass
    assert len(checkouts) == 2  # the pool's recycling applies at that checkout


def test_disposing_the_engine_closes_every_held_connection(
        held: db_pool.HeldConnections, database_url: str) -> None:
    with held.connection() as connection:
        kept = connection
        pid = backend(connection)
    db.engine.dispose()
    assert kept.closed
    if on_postgresql():
        watcher = sa.create_engine(database_url)
        with watcher.connect() as other:
            left = other.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                 {"pid": pid}).scalar()
        watcher.dispose()
        assert left == 0
    with held.connection() as connection, connection.begin():  # a new one, from the new pool
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
