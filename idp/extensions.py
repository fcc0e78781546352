"""The Flask extensions, created unbound; ``create_app`` binds them to each app."""

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()


def commit_keeping_loaded() -> None:
    """Commit, and keep the rows this request loaded as they are. After its commit a
    token or authorize request still reads its platform, traveller and code (the ID
    token, the response, the access log): expired by the commit, each was read again, a
    query apiece (issue 13). What this request wrote is what it keeps. A lone new row is
    written without a transaction around it (``idp.db_pool.write_alone``)."""
    from idp.db_pool import write_alone

    session = db.session()
    with keeping_loaded(session), write_alone(session):
        session.commit()


def insert_and_commit(entity: type[Base], values: dict[str, Any]) -> None:
    """Write one new row of ``entity`` and commit, keeping what this request loaded (as
    ``commit_keeping_loaded``). As the request's only change, the row is one INSERT of
    its own, without the ORM's unit of work, on the driver's cursor (idp/direct_sql.py):
    a code, a token, a platform's token (0.30 ms of CPU through SQLAlchemy's Core
    against 0.55 for an object added and flushed, measured on a code). With
    other changes pending, it is added and committed with them. The row is not kept in
    the session: nothing that writes one reads it again in the same request."""
    from idp.db_pool import write_alone
    from idp.direct_sql import insert_row

    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.add(entity(**values))
        commit_keeping_loaded()
        return
    with keeping_loaded(session):
        with write_alone(session, lone_insert=True):
            insert_row(entity, values)
        session.commit()


@contextlib.contextmanager
def keeping_loaded(session: Session) -> Iterator[None]:
    """A commit meanwhile leaves the session's loaded rows as they are (not expired)."""
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = expire


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp we store is UTC."""
    return datetime.now(UTC)


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite ignores ON DELETE CASCADE unless asked; PostgreSQL always honours it.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
