"""Fixtures that build on each other: database, app, client, a traveller, a platform,
a logged-in traveller. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from idp import create_app
from idp.extensions import db
from idp.keys import key_store
from idp.settings import generate_key
from tests import factories
from tests.browser import Browser

POSTGRES_URL = os.environ.get("IDP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]
SECRET_KEY = generate_key()
KEK = generate_key()
KEPT_TABLES = {"alembic_version", "signing_key"}


def test_settings(database_url: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "env": "testing",
        "issuer": "https://idp.test",
        "database_url": database_url,
        "secret_key": SECRET_KEY,
        "key_encryption_key": KEK,
        # Password hashing parameters are lowered only here, in tests.
        "argon2_time_cost": 1,
        "argon2_memory_cost": 8,
        "argon2_parallelism": 1,
    }
    settings.update(overrides)
    return settings


TEST_CONFIG = {"SERVER_NAME": "idp.test", "PREFERRED_URL_SCHEME": "https"}


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {url}: {exc.orig}", returncode=3)
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database for this backend: the schema comes from Alembic, as in production."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'idp.sqlite3'}"
    else:
        url = POSTGRES_URL
        _reset_postgres(url)
    app = create_app(settings=test_settings(url), config=TEST_CONFIG)
    with app.app_context():
        upgrade(revision="heads")
        # The session's signing keys, made now on the real clock: made later by a test
        # whose clock is moved ahead, they would not sign yet for the tests after it.
        key_store().ensure_keys()
        db.session.remove()
        db.engine.dispose()
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(settings=test_settings(database_url), config=TEST_CONFIG)
    app.instance_path = str(tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The audit log refuses DELETE unless the transaction sets this, as prune does.
            conn.execute(sa.text("SET LOCAL idp.audit_prune = 'on'"))
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                conn.execute(table.delete())


class IsolatedClient(FlaskClient):
    """Each request in its own app context, as on a real server: the test's own context
    (and its ``g`` and database session) is not shared with the requests."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def user(app: Flask) -> factories.Traveller:
    return factories.make_user()


@pytest.fixture
def platform(app: Flask) -> factories.Platform:
    return factories.make_platform()


@pytest.fixture
def public_platform(app: Flask) -> factories.Platform:
    return factories.make_platform(public=True, name="Transit app")


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def logged_in(browser: Browser, user: factories.Traveller) -> Browser:
    browser.login(user.email, user.password)
    return browser


@pytest.fixture
def in_english(client: FlaskClient) -> None:
    """Pages (and the mail they send) in English, whose words the tests read."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def frozen(time_machine: Any) -> Any:
    """The clock stopped a few seconds into a 30-second TOTP step, so that a test knows
    which step each code belongs to; ``frozen.shift(seconds)`` moves it."""
    from tests.totp import freeze_at_step_start

    freeze_at_step_start(time_machine)
    return time_machine
