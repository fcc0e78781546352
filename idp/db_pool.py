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
import json
import os
import re
import threading
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
    failure = _ping(dbapi_connection)
    if failure is not None:
        raise sa_exc.DisconnectionError(type(failure).__name__) from failure


def _idle(dbapi_connection: Any) -> bool:
    """No transaction open on the driver's connection (psycopg, sqlite3)."""
    status = getattr(getattr(dbapi_connection, "info", None), "transaction_status", None)
    if status is not None:
        return bool(status == _IDLE)
    return not getattr(dbapi_connection, "in_transaction", False)


def _ping(dbapi_connection: Any) -> Exception | None:
    """None if the connection answers a ``SELECT 1``; else what went wrong."""
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
        return error
    return None


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


_DECODE_JSON = json.JSONDecoder().decode


def _json_from_utf8(data: str | bytes) -> Any:
    return _DECODE_JSON(data if isinstance(data, str) else data.decode())


def _decode_json_as_utf8(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    from psycopg.types.json import set_json_loads  # only with the psycopg driver

    set_json_loads(_json_from_utf8, dbapi_connection)


def decode_json_as_utf8(engine: sa.Engine) -> None:
    """psycopg reads json and jsonb with ``json.loads`` on bytes, which first works out
    their encoding: half of each value's decoding (0.7 of 1.4 µs), five to eleven values
    a request on the API's hot paths. What PostgreSQL sends is UTF-8 (psycopg sets the
    client encoding), the one encoding ``json.loads`` would have found. Set on each of
    the engine's connections as it is made, nowhere else in the process."""
    if engine.dialect.driver == "psycopg":
        sa.event.listen(engine, "connect", _decode_json_as_utf8)


def begin_at_first_write(engine: sa.Engine) -> None:
    """With ``autocommit_options``: send BEGIN before a connection's first write."""
    if engine.dialect.driver == "psycopg":
        sa.event.listen(engine, "before_cursor_execute", _begin_before_writing)


class HeldConnections:
    """One pooled connection per thread, kept from one request to the next, for the
    answers made under Flask (``idp.oauth.direct``; issue 13, part 5).

    Taking a connection from the pool and giving it back (SQLAlchemy's ``Connection``,
    the pool's queue and lock, its checkout and checkin events, the reset on return)
    was a sixth of the time userinfo's answer took in a gthread worker (py-spy, GIL
    held), around a read of one row: 0.043 ms per answer, 0.008 kept. A thread
    serves one request at a time, so its connection is its own between requests; what
    the pool does at checkout and checkin is done here instead:

    - a connection idle for ``IDLE_CHECK`` seconds is pinged before use, and replaced
      when it does not answer (as ``_checkout`` does);
    - one older than ``RECYCLE`` seconds goes back to the pool, which replaces it;
    - one that met an error, was invalidated, or was left inside a transaction goes
      back to the pool, which discards or resets it;
    - ``Engine.dispose`` (a worker after fork, a test's teardown) closes every held
      connection of this process: none outlives its pool.

    Each thread holds at most one; Flask's path takes its own from the pool (so a
    thread uses at most two at once)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._all: dict[int, tuple[int, sa.Connection]] = {}  # id -> (pid, connection)
        self._lock = threading.Lock()
        sa.event.listen(engine, "engine_disposed", self._disposed)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sa.Connection]:
        """This thread's connection, for one request's statements. Inside it, the
        caller's writes are committed or rolled back before it ends."""
        connection, taken = self._take()
        try:
            yield connection
        except BaseException:
            self._give_back(connection)
            raise
        if (connection.closed or connection.invalidated or connection.in_transaction()
                or not _idle(connection.connection.dbapi_connection)):
            self._give_back(connection)  # the pool resets it (a rollback)
            return
        self._local.held = (connection, time.monotonic(), taken)

    def _take(self) -> tuple[sa.Connection, float]:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            connection, last, taken = held
            now = time.monotonic()
            if connection.closed or connection.invalidated:
                self._give_back(connection)
            elif now - taken > RECYCLE:
                self._give_back(connection)  # the pool recycles it at its next checkout
            elif now - last > IDLE_CHECK and _ping(connection.connection.dbapi_connection):
                connection.invalidate()
                self._give_back(connection)
            else:
                return connection, taken
        connection = self.engine.connect()
        with self._lock:
            self._all[id(connection)] = (os.getpid(), connection)
        return connection, time.monotonic()

    def _give_back(self, connection: sa.Connection) -> None:
        with self._lock:
            self._all.pop(id(connection), None)
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            connection.close()

    def _disposed(self, engine: sa.Engine) -> None:
        """Every held connection of this process is closed; a forked child forgets its
        parent's without touching them."""
        with self._lock:
            held, self._all = list(self._all.values()), {}
        self._local = threading.local()
        for pid, connection in held:
            if pid == os.getpid():
                with contextlib.suppress(Exception):
                    # Closed, not given back: the pool it came from is gone.
                    connection.invalidate()
                    connection.close()
