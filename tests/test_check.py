"""``idp check``: a good production configuration passes; each broken one fails, naming
the check at fault and saying what to do, without printing a password."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trustme
from aiosmtpd.controller import Controller
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from flask import Flask
from flask_migrate import upgrade

from idp import MIGRATIONS, create_app
from idp.cli import main
from idp.extensions import db
from idp.keys import key_store
from idp.oauth.subjects import subject_for
from idp.settings import generate_key
from tests import conftest
from tests.factories import Platform, Traveller
from tests.mail import Mailbox, smtp_server  # noqa: F401  (a fixture)
from tests.servers import BIN, ROOT, free_port, production_environ

# Redis database 5, fixed here: under pytest-xdist every test that uses it runs in
# one worker, one after the other (both backends' included).
pytestmark = pytest.mark.xdist_group("redis-5")

REDIS_URL = "redis://127.0.0.1:6379/5"
PASSWORD = "hunter2-not-to-be-printed"
Report = dict[str, dict[str, str]]


@pytest.fixture
def environ(app: Flask, database_url: str, user: Traveller, platform: Platform,
            smtp_server: tuple[Controller, Mailbox]) -> dict[str, str]:  # noqa: F811
    """A production environment on the test database, Redis and a real SMTP server,
    whose signing keys exist and where a platform knows a traveller by a pairwise sub
    (as after a first sign-in)."""
    key_store().ensure_keys()
    subject_for(user.model, platform.model)
    db.session.commit()
    controller, _ = smtp_server
    return production_environ(
        database_url, free_port(), IDP_REDIS_URL=REDIS_URL,
        IDP_SMTP_URL=f"smtp://{controller.hostname}:{controller.port}")


def run_check(environ: dict[str, str]) -> tuple[int, Report, str]:
    """``idp check --json`` in this process, seeing only the ``IDP_*`` variables given
    (and ``SSL_CERT_FILE`` when given)."""
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("IDP_")}
    env.update({key: value for key, value in environ.items() if key.startswith("IDP_")})
    env["SSL_CERT_FILE"] = environ.get("SSL_CERT_FILE")  # None: the system's trust store
    result = CliRunner().invoke(main, ["check", "--json"], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    body: dict[str, Any] = json.loads(result.stdout)
    assert body["ok"] is (result.exit_code == 0)
    return result.exit_code, {check["name"]: check for check in body["checks"]}, result.output


def statuses(report: Report) -> dict[str, str]:
    return {name: check["status"] for name, check in report.items()}


def test_a_good_configuration_passes(environ: dict[str, str], database_url: str) -> None:
    code, report, _ = run_check(environ)

    assert code == 0, report
    assert statuses(report) == {
        "configuration": "warning",  # the test bench's http loopback issuer
        "database": "ok", "clock": "ok", "keys": "ok", "keys RS256": "ok", "keys ES256": "ok",
        "secret key": "ok",
        "redis": "ok",
        "smtp": "warning",  # the test SMTP server offers no STARTTLS
    }
    assert "migrations at head" in report["database"]["detail"]
    assert "answers" in report["smtp"]["detail"]


def test_the_idp_command_prints_one_line_per_check(environ: dict[str, str]) -> None:
    done = subprocess.run([str(BIN / "idp"), "check"], env=environ, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines] == [
        "configuration", "database", "clock", "keys", "keys", "keys", "secret", "redis", "smtp"]
    assert all(line.split()[0] in ("ok", "warning") for line in lines)
    assert "only behind a TLS-terminating proxy" in lines[0]  # a warning says what to do


def closed(url: str) -> str:
    return url.format(port=free_port(), password=PASSWORD)


BROKEN = {
    "database on a closed port": (
        "database", {"IDP_DATABASE_URL": "postgresql+psycopg://postgres:{password}"
                                         "@127.0.0.1:{port}/test_e"}, "IDP_DATABASE_URL"),
    "a SQLite file that does not exist": (
        "database", {"IDP_DATABASE_URL": "sqlite:////nonexistent/idp-{port}.sqlite3"},
        "IDP_DATABASE_URL"),
    "redis on a closed port": (
        "redis", {"IDP_REDIS_URL": "redis://:{password}@127.0.0.1:{port}/5"}, "IDP_REDIS_URL"),
    "redis with its password in the query": (
        "redis", {"IDP_REDIS_URL": "redis://127.0.0.1:{port}/5?password={password}"},
        "IDP_REDIS_URL"),
    "smtp on a closed port": (
        "smtp", {"IDP_SMTP_URL": "smtp://mailer:{password}@127.0.0.1:{port}"}, "IDP_SMTP_URL"),
    "a production setting missing": (
        "configuration", {"IDP_REDIS_URL": ""}, "IDP_REDIS_URL"),
    "a short secret key": (
        "configuration", {"IDP_SECRET_KEY": "too-short"}, "IDP_SECRET_KEY"),
}


@pytest.mark.parametrize(("check", "override", "advice"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_configuration_fails_naming_the_check(
        environ: dict[str, str], check: str, override: dict[str, str], advice: str) -> None:
    environ.update({name: closed(value) for name, value in override.items()})

    code, report, output = run_check(environ)

    assert code == 1
    assert report[check]["status"] == "problem", report
    assert advice in report[check]["detail"] + report[check]["advice"]
    assert PASSWORD not in output
    assert [name for name, r in report.items() if r["status"] == "problem"] == [check]


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def starttls_server(authority: trustme.CA) -> Iterator[str]:
    """An SMTP server that offers STARTTLS with a certificate for 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=free_port(),
                            tls_context=context)
    controller.start()
    yield f"smtp://{controller.hostname}:{controller.port}"
    controller.stop()


def test_smtp_starttls_is_used_and_its_certificate_checked(
        environ: dict[str, str], starttls_server: str, authority: trustme.CA,
        tmp_path: Path) -> None:
    environ["IDP_SMTP_URL"] = starttls_server
    code, report, _ = run_check(environ)
    assert code == 1  # the certificate is signed by an authority this host does not trust
    assert report["smtp"]["status"] == "problem"
    assert "SSLCertVerificationError" in report["smtp"]["detail"]

    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    environ["SSL_CERT_FILE"] = str(tmp_path / "ca.pem")  # OpenSSL's default trust store
    code, report, _ = run_check(environ)
    assert code == 0
    assert (report["smtp"]["status"], report["smtp"]["detail"]) == (
        "ok", f"{starttls_server} answers, with TLS")


def test_keys_that_the_kek_cannot_decrypt_are_a_problem(environ: dict[str, str]) -> None:
    environ["IDP_KEY_ENCRYPTION_KEY"] = generate_key()  # not the one the keys were stored with

    code, report, _ = run_check(environ)

    assert code == 1
    assert report["keys"]["status"] == "problem"
    assert "cannot be decrypted with IDP_KEY_ENCRYPTION_KEY" in report["keys"]["detail"]
    assert report["keys RS256"]["status"] == report["keys ES256"]["status"] == "problem"
    assert report["database"]["status"] == "ok"


def test_another_secret_key_than_the_database_was_used_with_is_a_problem(
        environ: dict[str, str]) -> None:
    environ["IDP_SECRET_KEY"] = generate_key()

    code, report, output = run_check(environ)

    assert code == 1
    assert report["secret key"]["status"] == "problem"
    assert "would not recognise their travellers" in report["secret key"]["detail"]
    assert environ["IDP_SECRET_KEY"] not in output


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same backend, dropped after the test."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    url = sa.make_url(database_url)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"{url.database}_check_fresh"  # after the suite's database: suites never meet
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def migrate_to(url: str, revision: str) -> None:
    app = create_app(settings=conftest.test_settings(url), config=conftest.TEST_CONFIG)
    with app.app_context():
        upgrade(revision=revision)
        db.engine.dispose()


def test_a_database_behind_head_is_a_problem_until_upgraded(
        environ: dict[str, str], fresh_database: str) -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    (head,) = script.get_heads()
    parent = script.get_revision(head).down_revision
    assert isinstance(parent, str)
    migrate_to(fresh_database, parent)
    environ["IDP_DATABASE_URL"] = fresh_database

    code, report, _ = run_check(environ)

    assert code == 1
    assert report["database"]["status"] == "problem"
    assert f"is behind head ({parent}, head {head})" in report["database"]["detail"]
    assert report["database"]["advice"] == "run `idp db upgrade` once"

    migrate_to(fresh_database, "heads")
    code, report, _ = run_check(environ)
    assert report["database"]["status"] == "ok"
    assert report["keys"]["status"] == "warning"  # none yet: made at the first start
    assert report["secret key"]["detail"] == "no pairwise subject stored yet to compare with"
    assert code == 0


def test_a_clock_far_from_the_database_is_a_problem(environ: dict[str, str], database_url: str,
                                                    time_machine: Any) -> None:
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=10), tick=True)

    code, report, _ = run_check(environ)

    if database_url.startswith("sqlite"):  # one clock: nothing to compare
        assert (code, report["clock"]["status"]) == (0, "ok")
        return
    assert code == 1
    assert report["clock"]["status"] == "problem"
    assert "behind this host" in report["clock"]["detail"]
    assert "NTP" in report["clock"]["advice"]
