"""Mobility ID, the OpenID Connect provider. ``create_app`` wires every part."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from idp import (
    access_log,
    api_session,
    db_pool,
    errors,
    guard,
    health,
    i18n,
    keys,
    logs,
    outbox,
    prepared,
    security,
)
from idp.accounts import passwords
from idp.extensions import babel, csrf, db, migrate
from idp.i18n import select_locale
from idp.proxies import TrustedProxyFix, parse_networks
from idp.settings import Settings, form_time_limit, load_settings
from idp.urls import trusted_hosts

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT.parent / "templates"
MIGRATIONS = ROOT / "migrations"
DATABASE_CONNECT_TIMEOUT = 5  # seconds (libpq's connect_timeout: the whole handshake)


def create_app(
    settings: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Flask:
    """Build the provider. ``settings`` override the typed settings (tests), ``config``
    extra Flask configuration."""
    app = Flask(__name__, instance_relative_config=True, template_folder=str(TEMPLATES))
    prepared.install(app)  # first: every other WSGI layer wraps it
    loaded = load_settings(Path(app.instance_path), environ=environ, overrides=settings)
    app.extensions["idp.settings"] = loaded
    configure(app, loaded)
    trust_proxies(app, loaded)
    app.config.update(config or {})
    # Authlib logs issued tokens at DEBUG level: never let them reach our logs.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLogger("authlib").level))
    setup_extensions(app)
    for init in (guard.init_app, errors.init_app, i18n.init_app, security.init_app,
                 passwords.init_app, keys.init_app, outbox.init_app, health.init_app,
                 access_log.init_app, logs.init_app):
        init(app)
    setup_oauth(app)
    setup_accounts(app)
    setup_advisors(app)
    setup_metrics(app)
    setup_help(app)
    # The only place where idp meets the packages built on it (shared/STYLE.md).
    import clients
    import consent

    consent.init_app(app)
    clients.init_app(app)
    api_session.init_app(app)  # last: it reads every blueprint's routes
    return app


def configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        # The __Host- prefix needs Secure: not on the http loopback issuer of a test bench.
        SESSION_COOKIE_NAME="__Host-idp_session"
        if settings.is_production and settings.is_https else "idp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_https,
        # The cookie is sent again with each response, so it lapses after the idle
        # timeout; the server still checks both limits against the session's row.
        PERMANENT_SESSION_LIFETIME=timedelta(
            seconds=min(settings.session_lifetime, settings.session_idle_timeout)),
        MAX_CONTENT_LENGTH=256 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        WTF_CSRF_TIME_LIMIT=form_time_limit(settings),  # issue 12: see idp.settings
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "translations"),
        TESTING=settings.env == "testing",
        # A request must name the issuer's host (or an IDP_EXTRA_HOSTS one): anything
        # else is refused with 400 before it reaches a view (Host header injection).
        TRUSTED_HOSTS=trusted_hosts(settings),
    )


def engine_options(url: str) -> dict[str, Any]:
    """A database that accepts connections but does not answer (a failover, a full
    backlog) must not hold a worker for minutes: connecting gives up after
    DATABASE_CONNECT_TIMEOUT, and the request gets the 503 page (idp.health)."""
    # No ping per checkout: idp.db_pool pings only connections that sat idle.
    options: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": db_pool.RECYCLE}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": DATABASE_CONNECT_TIMEOUT}
    options.update(db_pool.autocommit_options(url))
    return options


def trust_proxies(app: Flask, settings: Settings) -> None:
    """Believe the X-Forwarded-For and -Proto of our own ``trusted_proxies`` reverse
    proxies, and only when the request comes from one of their addresses
    (``trusted_proxy_addresses``): a client could forge the header to dodge throttling."""
    if settings.trusted_proxies > 0:
        networks = parse_networks(settings.trusted_proxy_addresses)
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, networks, settings.trusted_proxies)


def setup_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        db_pool.watch(db.engine)
        db_pool.begin_at_first_write(db.engine)
        db_pool.decode_json_as_utf8(db.engine)
        app.extensions["idp.held_connections"] = db_pool.HeldConnections(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)


def setup_oauth(app: Flask) -> None:
    from idp.oauth import authorize, backchannel, endpoints, events, logout, par, server

    server.init_app(app)
    backchannel.init_app(app)
    events.init_app(app)
    app.register_blueprint(authorize.bp)
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(logout.bp)
    app.register_blueprint(par.bp)
    endpoints.serve_prepared(app)


def setup_advisors(app: Flask) -> None:
    """Mobility advisors and their mandates (issue 12, assisted access)."""
    from idp import advisors

    advisors.init_app(app)


def setup_metrics(app: Flask) -> None:
    # Imported here, not at the top: prometheus_client picks its multiprocess mode when
    # first imported, and gunicorn imports this package before idp.gunicorn_conf sets
    # PROMETHEUS_MULTIPROC_DIR.
    from idp import metrics

    metrics.init_app(app)


def setup_help(app: Flask) -> None:
    """Human help, the signed-in menu and the footer pages (issue 12)."""
    from idp import helpdesk

    helpdesk.init_app(app)


def setup_accounts(app: Flask) -> None:
    from idp.accounts import (
        cli,
        credentials_views,
        email_views,
        mfa_views,
        phone_views,
        reauth,
        recovery_views,
        second_step,
        sessions_views,
        sms_recovery,
        sms_signup,
        throttle,
        views,
    )

    for module in (views, reauth, second_step, mfa_views, email_views, recovery_views,
                   credentials_views, phone_views, sms_recovery, sms_signup):
        app.register_blueprint(module.bp)
    sessions_views.init_app(app)
    app.cli.add_command(cli.users)
    throttle.init_app(app)  # after every sign-in blueprint (it names their endpoints)
