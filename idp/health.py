"""Is the provider up, and can it serve? ``/healthz`` (liveness) and ``/readyz``
(readiness) for the operator's orchestrator, and a 503 with ``Retry-After`` (RFC 9110
15.6.4, 10.2.3) instead of a 500 per request while the database cannot be reached."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import redis
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import NullPool

from idp.access_log import current_route
from idp.errors import handle_unexpected, is_api_request
from idp.extensions import csrf, db
from idp.keys import SUPPORTED_ALGS, key_store

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

RETRY_AFTER = 30  # seconds: long enough for a database restart or a failover
CHECK_TIMEOUT = 2  # seconds, per readiness check (libpq's smallest connect_timeout)
TITLE = _l("Mobility ID is briefly unavailable")
MESSAGE = _l("We cannot reach our records right now. Nothing was changed. "
             "Please try again in a few minutes.")

# sqlite3 primary result codes that mean the file cannot be used now, unlike
# SQLITE_ERROR (1), which also covers our own bugs (a missing table, bad SQL).
SQLITE_UNAVAILABLE = frozenset({3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
CONNECTION_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError,
                     sa_exc.DisconnectionError, sa_exc.TimeoutError)


def is_unavailable(error: Exception) -> bool:
    """The database is down, unreachable, full, locked or out of connections; not a bug
    of ours, nor refused data (IntegrityError, DataError stay 500s or 400s)."""
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, sa_exc.OperationalError):
        return False
    if isinstance(error.orig, sqlite3.Error):
        return (getattr(error.orig, "sqlite_errorcode", 0) & 0xFF) in SQLITE_UNAVAILABLE
    return True  # psycopg: classes 08, 53, 57, 58 and 40 (retry the transaction)


def describe(error: BaseException) -> str:
    """The exception's classes only: its text can carry SQL parameters (personal data)."""
    orig = getattr(error, "orig", None)
    name = type(error).__name__
    if orig is None:
        return name
    return f"{name} ({type(orig).__module__}.{type(orig).__name__})"


def handle_unavailable(error: Exception) -> ResponseReturnValue:
    """One log line per request, no traceback; JSON for platforms, a page for people."""
    if not is_unavailable(error):
        return handle_unexpected(error)
    log.warning("database unavailable on %s %s: %s", request.method, current_route(),
                describe(error))
    if is_api_request():
        response: Response = jsonify(error="temporarily_unavailable")
    else:
        response = Response(render_template("error.html", title=TITLE, message=MESSAGE,
                                            code=503), mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


@bp.get("/healthz")
def liveness() -> ResponseReturnValue:
    """Liveness: the process answers. It touches nothing, so that a database outage does
    not get every worker restarted."""
    return jsonify(status="alive")


@bp.get("/readyz")
def readiness() -> ResponseReturnValue:
    """Readiness: the database answers ``SELECT 1`` and Redis (when configured) a PING,
    each within ``CHECK_TIMEOUT``; the database's schema is at the code's migration
    head(s), and every supported algorithm has an active signing key. Failures name the
    check, never its error text, which could carry a host or a password."""
    checks = {"database": check_database()}
    if checks["database"] == "ok":
        checks["migrations"] = check_migrations()
        checks["signing_key"] = check_signing_keys()
    if current_app.extensions["idp.settings"].redis_url:
        checks["redis"] = check_redis()
    if all(result == "ok" for result in checks.values()):
        return jsonify(status="ready", checks=checks)
    return jsonify(status="unavailable", checks=checks), 503, {"Retry-After": str(RETRY_AFTER)}


def check_database() -> str:
    try:
        with probe_engine().connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa_exc.SQLAlchemyError as error:
        log.warning("readiness: database check failed: %s", describe(error))
        return "unavailable"
    return "ok"


def check_migrations() -> str:
    """``not_at_head`` while the database's ``alembic_version`` differs from the code's
    heads: a rolling deploy whose migration has not run yet (or code older than the
    schema) must not take traffic. Read directly: alembic's MigrationContext would log
    at every probe."""
    try:
        with probe_engine().connect() as connection:
            applied = set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    except sa_exc.SQLAlchemyError as error:
        log.warning("readiness: migration check failed: %s", describe(error))
        return "unavailable"
    return "ok" if applied == code_heads() else "not_at_head"


def code_heads() -> set[str]:
    """The head revision(s) of the migration scripts, read once per app."""
    probes = current_app.extensions["idp.health"]
    if "heads" not in probes:
        directory = current_app.extensions["migrate"].directory
        probes["heads"] = set(ScriptDirectory(directory).get_heads())
    heads: set[str] = probes["heads"]
    return heads


def check_signing_keys() -> str:
    """``none_active`` when an algorithm has no key that signs now (every key still
    "next", or all removed), asked the way a token request asks: through the process's
    key cache, which creates the first keys of a new database."""
    store = key_store()
    try:
        for alg in SUPPORTED_ALGS:
            store.signing_key(alg)
    except KeyError:
        return "none_active"
    except sa_exc.SQLAlchemyError as error:
        db.session.rollback()
        log.warning("readiness: signing key check failed: %s", describe(error))
        return "unavailable"
    return "ok"


def check_redis() -> str:
    try:
        probe_redis().ping()
    except (redis.RedisError, OSError) as error:
        log.warning("readiness: redis check failed: %s", describe(error))
        return "unavailable"
    return "ok"


def probe_engine() -> sa.Engine:
    """An engine of its own with short timeouts: the application's pool waits as long as
    the system lets a connection attempt last. No pool: each probe opens a connection, as
    a worker would after a restart of the database (a few milliseconds)."""
    probes = current_app.extensions["idp.health"]
    if "engine" not in probes:
        url = db.engine.url
        probes["engine"] = sa.create_engine(url, poolclass=NullPool,
                                            connect_args=connect_args(url))
    engine: sa.Engine = probes["engine"]
    return engine


def connect_args(url: sa.URL) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql":
        timeout_ms = CHECK_TIMEOUT * 1000
        return {"connect_timeout": CHECK_TIMEOUT, "options": f"-c statement_timeout={timeout_ms}"}
    if url.get_backend_name() == "sqlite":
        return {"timeout": CHECK_TIMEOUT}
    return {}


def probe_redis() -> redis.Redis:
    probes = current_app.extensions["idp.health"]
    if "redis" not in probes:
        probes["redis"] = redis.Redis.from_url(
            current_app.extensions["idp.settings"].redis_url,
            socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)
    client: redis.Redis = probes["redis"]
    return client


def init_app(app: Flask) -> None:
    app.extensions["idp.health"] = {}
    # Probes come without a session or a form; throttling counts only sign-in posts.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    for error in CONNECTION_ERRORS:
        app.register_error_handler(error, handle_unavailable)
