"""Checking pooled connections without a round trip on every request (issue 13, part 5).

``pool_pre_ping`` sends ``SELECT 1`` at every checkout: a round trip per request (0.6 ms
measured on userinfo) to catch a connection the server dropped (a restart, a failover,
an idle timeout in between). A connection that served a request a moment ago is alive;
one that sat idle is where a drop hides. So only a connection idle for more than
``IDLE_CHECK`` seconds is pinged on checkout; a dead one is replaced before the request
sees it (raising DisconnectionError makes the pool retry with a fresh connection).
A drop between two requests of a busy worker is still caught by SQLAlchemy's own
disconnect handling: that request gets the 503 page (idp.health), the pool is renewed,
the next request works. ``pool_recycle`` renews every connection after an hour."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

IDLE_CHECK = 10.0  # seconds a pooled connection may rest before it is checked again
RECYCLE = 3600  # seconds after which a connection is replaced anyway
_LAST_USED = "idp_last_used"


def _checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_LAST_USED] = time.monotonic()


def _checkout(dbapi_connection: Any, record: ConnectionPoolEntry,
              proxy: PoolProxiedConnection) -> None:
    last = record.info.get(_LAST_USED)
    if last is None or time.monotonic() - last < IDLE_CHECK:
        return  # new (just connected) or in use a moment ago
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        rollback = getattr(dbapi_connection, "rollback", None)
        if rollback is not None:
            rollback()  # end the ping's implicit transaction (psycopg)
    except Exception as error:  # noqa: BLE001 - any failure means: use another one
        raise sa_exc.DisconnectionError(type(error).__name__) from error


def watch(engine: sa.Engine) -> None:
    sa.event.listen(engine, "checkin", _checkin)
    sa.event.listen(engine, "checkout", _checkout)


# A request's transaction that only read ends with COMMIT, not ROLLBACK (the same to
# the database). psycopg forgets every prepared statement at a ROLLBACK (and sends
# DEALLOCATE ALL): read-only requests, userinfo and introspection first, ended that way,
# so no hot query stayed prepared past the request that prepared it, and the next one
# parsed and planned it again.
_WROTE = "idp_wrote"
_READS = ("SELECT", "WITH", "SHOW", "EXPLAIN")


def _on_begin(connection: sa.Connection) -> None:
    connection.info[_WROTE] = False


def _before_execute(connection: sa.Connection, cursor: Any, statement: str,
                    parameters: Any, context: Any, executemany: bool) -> None:
    if not statement.lstrip()[:7].upper().startswith(_READS) or " FOR UPDATE" in statement:
        connection.info[_WROTE] = True


def end_read_only_transaction(exc: BaseException | None) -> None:
    """Before Flask-SQLAlchemy closes the session (which rolls back): a transaction in
    which nothing was written, nothing is pending and nothing failed is committed.
    Never connects: a request whose database was away (the 503 page) is left to the
    close, as before."""
    from idp.extensions import db

    if exc is not None:
        return
    session = db.session()
    connection = session.info.get(_CONNECTION)
    transaction = session.get_transaction()
    if connection is None or transaction is None or not transaction.is_active:
        return
    if session.new or session.dirty or session.deleted:
        return  # left unsaved on purpose: the close below discards it
    if connection.invalidated or connection.info.get(_WROTE, True):
        return
    with contextlib.suppress(sa_exc.SQLAlchemyError):
        session.commit()  # if it fails, the close rolls back, as for any request


_CONNECTION = "idp_connection"


def _after_begin(session: Any, transaction: Any, connection: sa.Connection) -> None:
    """The connection a session's transaction took (none: nothing to end)."""
    session.info[_CONNECTION] = connection


def _after_end(session: Any, *_: Any) -> None:
    session.info.pop(_CONNECTION, None)


def keep_prepared_statements(app: Any, engine: sa.Engine) -> None:
    """Call after Flask-SQLAlchemy's init_app: teardown functions run last registered
    first, so this one runs before the session is closed."""
    from idp.extensions import db

    sa.event.listen(engine, "begin", _on_begin)
    sa.event.listen(engine, "before_cursor_execute", _before_execute)
    # One session factory serves every app of the process: listened to once.
    if not sa.event.contains(db.session, "after_begin", _after_begin):
        sa.event.listen(db.session, "after_begin", _after_begin)
        sa.event.listen(db.session, "after_commit", _after_end)
        sa.event.listen(db.session, "after_soft_rollback", _after_end)
    app.teardown_appcontext(end_read_only_transaction)
