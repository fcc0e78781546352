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
import functools
import re
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

IDLE_CHECK = 10.0  # seconds a pooled connection may rest before it is checked again
RECYCLE = 3600  # seconds after which a connection is replaced anyway
_LAST_USED = "idp_last_used"
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection


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


# Transactions begin at the first write (issue 13, part 5). psycopg sends BEGIN as a round
# trip of its own before a transaction's first statement, and COMMIT or ROLLBACK as
# another at its end; at a ROLLBACK it also forgets its prepared statements. Userinfo,
# which reads one row, paid three round trips and planned its query afresh each time.
# On PostgreSQL the engine runs in autocommit (``engine_options``) and BEGIN is sent
# here, just before the first statement that needs a transaction: one that writes, or
# that takes a lock meant to last until the commit. A request that only reads opens no
# transaction; whatever a request writes is committed, or rolled back, together. Its
# reads before the first write each see the latest committed data, as every statement
# does at PostgreSQL's default isolation (READ COMMITTED).
_READS = re.compile(r"\s*(SELECT|SHOW|EXPLAIN)\b", re.IGNORECASE)
_LOCKS = re.compile(
    r"\bFOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b|pg_advisory_xact_lock",
    re.IGNORECASE)


@functools.lru_cache(maxsize=2048)  # the same few hundred statements, compiled once each
def needs_transaction(statement: str) -> bool:
    """Whether a statement must run inside the transaction: anything but a plain read
    (a data-modifying WITH included), and a read that locks rows or takes a transaction
    lock (the audit chain's appends are serialised by pg_advisory_xact_lock)."""
    return _READS.match(statement) is None or _LOCKS.search(statement) is not None


def _begin_before_writing(connection: sa.Connection, cursor: Any, statement: str,
                          parameters: Any, context: Any, executemany: bool) -> None:
    dbapi = connection.connection.dbapi_connection
    if (dbapi is not None and dbapi.autocommit
            and dbapi.info.transaction_status == _IDLE and needs_transaction(statement)):
        if (connection.info.pop(_ALONE, False) and not executemany
                and _LONE_WRITE.match(statement)):
            return  # one statement: a transaction of its own (write_alone)
        cursor.execute("BEGIN", prepare=False)


_ALONE = "idp_insert_alone"
# What ``write_alone`` lets run without BEGIN: an INSERT, or an INSERT that selects from
# an UPDATE in a WITH (idp.direct_sql.insert_row_if: a refresh token's rotation).
_LONE_WRITE = re.compile(r"\s*(INSERT|WITH)\b", re.IGNORECASE)


@contextlib.contextmanager
def write_alone(session: Any, lone_insert: bool = False) -> Iterator[None]:
    """Around the commit of a session whose only change is one new row, before anything
    was written, or (``lone_insert``) around the one INSERT of a session with no change
    pending: that INSERT runs as a transaction of its own, without the BEGIN and COMMIT
    round trips (issue 13: an authorization's code, a platform's token, a refresh's new
    token with the old one spent in the same statement). With anything else pending, or
    a transaction already begun, the commit is as usual."""
    connection = None
    alone = not session.new if lone_insert else len(session.new) == 1
    if alone and not session.dirty and not session.deleted:
        connection = session.connection()
        insert_alone(connection)
    try:
        yield
    finally:
        if connection is not None and not connection.closed:
            connection.info.pop(_ALONE, None)


def insert_alone(connection: sa.Connection) -> None:
    """On a connection with nothing written yet (a session's, or one outside any
    session): its next INSERT runs as a transaction of its own, one round trip."""
    dbapi = connection.connection.dbapi_connection
    if (connection.dialect.driver == "psycopg" and dbapi is not None
            and dbapi.info.transaction_status == _IDLE):
        connection.info[_ALONE] = True


def autocommit_options(url: str) -> dict[str, Any]:
    """The engine options for transactions that begin at the first write."""
    return {"isolation_level": "AUTOCOMMIT"} if url.startswith("postgresql+psycopg") else {}


def begin_at_first_write(engine: sa.Engine) -> None:
    """With ``autocommit_options``: send BEGIN before a connection's first write."""
    if engine.dialect.driver == "psycopg":
        sa.event.listen(engine, "before_cursor_execute", _begin_before_writing)
