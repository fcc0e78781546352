"""Fixtures that build on each other: database, app, client, a traveller, a platform,
a logged-in traveller. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.routing.rules import Rule

from idp import create_app
from idp.extensions import db
from idp.keys import key_store
from idp.settings import generate_key
from tests import factories
from tests.browser import Browser

# With pytest-xdist (make test runs two workers), each worker has a database of its own,
# named after the configured one: test_gw0, test_gw1...
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
CONFIGURED_POSTGRES_URL = os.environ.get("IDP_TEST_POSTGRES_URL",
                                         "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def worker_postgres_url(configured: str, worker: str) -> str:
    if not worker:
        return configured
    url = sa.make_url(configured)
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


POSTGRES_URL = worker_postgres_url(CONFIGURED_POSTGRES_URL, XDIST_WORKER)
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
# On tmpfs a commit's fsync costs nothing: SQLite then commits in 0.1 ms instead of 5.
FAST_TEMP = Path("/dev/shm")  # noqa: S108  (only mkdtemp under it: private, 0700)
FAST_TEMP_MIN_FREE = 1 << 30
_FAST_BASETEMP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Put the run's temporary directories (the SQLite databases among them) on tmpfs
    when the machine has room there; ``--basetemp`` chooses another place."""
    if config.option.basetemp or not os.access(FAST_TEMP, os.W_OK):
        return  # xdist's workers are given their part of the controller's basetemp
    if shutil.disk_usage(FAST_TEMP).free < FAST_TEMP_MIN_FREE:
        return  # a container's small /dev/shm: chromium needs it more
    config.option.basetemp = tempfile.mkdtemp(prefix="mobility-id-tests-", dir=FAST_TEMP)
    config.stash[_FAST_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    if _FAST_BASETEMP in config.stash:
        shutil.rmtree(config.stash[_FAST_BASETEMP], ignore_errors=True)


class TemplateCache(BytecodeCache):
    """Compiled templates kept in memory for the whole run. Each test builds its own app,
    whose Jinja environment would otherwise parse and compile every page it renders
    again; Jinja checks each cached template against its source's checksum."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = TemplateCache()


def share_templates(app: Flask) -> Flask:
    """Let this app use the run's compiled templates (``TemplateCache``)."""
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    return app


_compile_url_builder = Rule._compile_builder
_URL_BUILDERS: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}


def _shared_url_builder(rule: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
    """URL builders compiled once for the whole run. Each test builds its own app, and
    werkzeug compiles each rule's two builders (Python code made with ``ast`` and
    ``compile``) as the app registers its blueprints: three quarters of ``create_app``'s
    time. A builder's code depends only on the rule's parsed parts and the defaults it
    inlines, and reads the converters through the rule it is bound to (``self``): the same
    code serves every app's copy of a rule."""
    defaults = tuple(  # as werkzeug inlines them: converted when the rule's path names them
        (name, rule._converters[name].to_url(value) if name in rule._converters else None)
        for name, value in (rule.defaults or {}).items())
    key = (rule.rule, append_unknown, tuple(rule._trace), defaults)
    if key not in _URL_BUILDERS:
        _URL_BUILDERS[key] = _compile_url_builder(rule, append_unknown)
    return _URL_BUILDERS[key]


Rule._compile_builder = _shared_url_builder  # type: ignore[method-assign,assignment]


def _create_postgres(url: str) -> None:
    """A worker's database, made on its first run from the configured database."""
    if url == CONFIGURED_POSTGRES_URL:
        return
    name = sa.make_url(url).database
    admin = sa.create_engine(CONFIGURED_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                               {"name": name}):
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {CONFIGURED_POSTGRES_URL}: {exc.orig}",
                    returncode=3)
    finally:
        admin.dispose()


def _reset_postgres(url: str) -> None:
    _create_postgres(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
            # A commit here need not wait for its WAL to reach the disk (4 ms each on
            # these machines): every later connection to the test database, the live
            # servers' and gunicorn's included, commits as soon as PostgreSQL has it.
            # Visibility, locking and isolation are PostgreSQL's own, unchanged.
            name = conn.scalar(sa.text("SELECT current_database()"))
            conn.execute(sa.text(
                f"ALTER DATABASE {conn.dialect.identifier_preparer.quote(name)} "
                "SET synchronous_commit = off"))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {url}: {exc.orig}", returncode=3)
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database for this backend: the schema comes from Alembic, as in production.
    Migrated once per run: pytest-xdist may hand a worker the other backend's tests and
    then this one's again, and each test leaves the tables empty."""
    if request.param in _MIGRATED:
        return _MIGRATED[request.param]
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
    _MIGRATED[request.param] = url
    return url


_MIGRATED: dict[str, str] = {}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = share_templates(create_app(settings=test_settings(database_url), config=TEST_CONFIG))
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
