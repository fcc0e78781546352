"""Backup and restore, as an operator would do them: a provider in use is copied
(``pg_dump --format=custom`` then ``pg_restore`` into a fresh database on PostgreSQL;
SQLite's online backup API, the one behind ``sqlite3 idp.sqlite3 ".backup copy"``), and the
copy is a provider whose audit chain verifies, whose keys still sign, and whose
travellers, platforms and consents came through. Restored with another key-encryption
key, ``idp check`` says so."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from idp import create_app
from idp.extensions import db
from idp.settings import generate_key
from tests import conftest, factories
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.oauth.test_code_flow import log_in_and_allow
from tests.servers import BIN, ROOT, free_port, production_environ
from tests.tokens import redeem, verify_id_token

# Redis database 5, fixed here: under pytest-xdist every test that uses it runs in
# one worker, one after the other (both backends' included).
pytestmark = pytest.mark.xdist_group("redis-5")

REDIS_URL = "redis://127.0.0.1:6379/5"
PG_DUMP, PG_RESTORE = shutil.which("pg_dump"), shutil.which("pg_restore")


@dataclass
class Copies:
    """The database in use and the one its backup is restored into."""

    source: str
    restored: str


def recreate(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))


@pytest.fixture
def copies(database_url: str, tmp_path: Path) -> Iterator[Copies]:
    """Two empty databases of the test's backend (PostgreSQL ones dropped after)."""
    if database_url.startswith("sqlite"):
        yield Copies(f"sqlite:///{tmp_path / 'idp.sqlite3'}",
                     f"sqlite:///{tmp_path / 'restored.sqlite3'}")
        return
    if not (PG_DUMP and PG_RESTORE):
        pytest.skip("pg_dump and pg_restore are not installed (Debian: postgresql-client)")
    url = sa.make_url(database_url)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    # Named after the suite's database, so that two suites on one server never meet.
    names = (f"{url.database}_backup_source", f"{url.database}_backup_restore")
    for name in names:
        recreate(admin, name)
    yield Copies(*(url.set(database=name).render_as_string(hide_password=False)
                   for name in names))
    with admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@dataclass
class InUse:
    """What the provider held when it was backed up."""

    traveller: factories.Traveller
    platform: factories.Platform
    rotated_kid: str
    audit: dict[str, Any]
    sub: str  # the pairwise subject the platform knows the traveller by


def use_provider(url: str) -> InUse:
    """Migrate, then a traveller consents to a platform and a key is rotated."""
    app = create_app(settings=conftest.test_settings(url), config=conftest.TEST_CONFIG)
    app.test_client_class = conftest.IsolatedClient
    with app.app_context():
        upgrade(revision="heads")
        traveller, platform = factories.make_user(), factories.make_platform()
        request = AuthorizationRequest(platform.client_id, platform.redirect_uri)
        browser = Browser(app.test_client())
        answer = log_in_and_allow(browser, traveller, request)
        assert answer.status_code == 302, answer.get_data(as_text=True)
        tokens = redeem(browser.client, platform, query_of(answer.location)["code"],
                        request.verifier).get_json()
        sub = verify_id_token(browser.client, tokens["id_token"])["sub"]
        runner = app.test_cli_runner()
        rotation = runner.invoke(args=["keys", "rotate", "--publish-delay", "0", "--json"])
        assert rotation.exit_code == 0, rotation.output
        verified = runner.invoke(args=["audit", "verify", "--json"])
        db.session.remove()
        db.engine.dispose()
    audit = json.loads(verified.stdout)
    assert audit["ok"] and audit["events"] >= 1, audit
    return InUse(traveller, platform, json.loads(rotation.stdout)["kid"], audit, sub)


def back_up_and_restore(copies: Copies, tmp_path: Path) -> None:
    if copies.source.startswith("sqlite"):
        # What `sqlite3 idp.sqlite3 ".backup restored.sqlite3"` does: the online backup
        # API copies a consistent snapshot while the provider keeps running.
        with sqlite3.connect(sa.make_url(copies.source).database or "") as source, \
                sqlite3.connect(sa.make_url(copies.restored).database or "") as target:
            source.backup(target)
        source.close()
        target.close()
        return
    dump = tmp_path / "idp.dump"
    assert PG_DUMP and PG_RESTORE
    subprocess.run([PG_DUMP, "--format=custom", f"--file={dump}",
                    f"--dbname={libpq(copies.source)}"], check=True, timeout=120)
    subprocess.run([PG_RESTORE, "--no-owner", "--exit-on-error",
                    f"--dbname={libpq(copies.restored)}", str(dump)], check=True, timeout=120)


def libpq(url: str) -> str:
    """The SQLAlchemy URL as libpq (pg_dump, psql) spells it."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def idp(url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """The ``idp`` command as an operator runs it, on the restored database."""
    environ = production_environ(url, free_port(), IDP_REDIS_URL=REDIS_URL, **extra)
    return subprocess.run([str(BIN / "idp"), *args], env=environ, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_restored_backup_is_the_same_provider(copies: Copies, tmp_path: Path) -> None:
    before = use_provider(copies.source)

    back_up_and_restore(copies, tmp_path)

    verified = idp(copies.restored, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout) == before.audit  # same events, same head hash
    listed = idp(copies.restored, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    states = {key["kid"]: key["state"] for key in map(json.loads, listed.stdout.splitlines())}
    assert states[before.rotated_kid] == "active"
    claims = sign_in_again(copies.restored, before)
    assert claims["_header"]["kid"] == before.rotated_kid
    assert claims["sub"] == before.sub


def sign_in_again(url: str, before: InUse) -> dict[str, Any]:
    """The traveller signs in to the platform on the restored provider: no consent screen
    (the consent came through), the platform's secret still works, and the ID token
    verifies with the restored provider's published JWKS."""
    app = create_app(settings=conftest.test_settings(url), config=conftest.TEST_CONFIG)
    app.test_client_class = conftest.IsolatedClient
    with app.app_context():
        browser = Browser(app.test_client())
        request = AuthorizationRequest(before.platform.client_id, before.platform.redirect_uri)
        browser.authorize(request)
        answer = browser.login_form(before.traveller.email, before.traveller.password)
        assert answer.status_code == 302, answer.get_data(as_text=True)
        assert answer.location.startswith(before.platform.redirect_uri)
        tokens = redeem(browser.client, before.platform, query_of(answer.location)["code"],
                        request.verifier)
        assert tokens.status_code == 200, tokens.get_json()
        claims = verify_id_token(browser.client, tokens.get_json()["id_token"])
        db.session.remove()
        db.engine.dispose()
    return claims


def check_report(url: str, **extra: str) -> tuple[int, dict[str, dict[str, str]]]:
    checked = idp(url, "check", "--json", **extra)
    report = {check["name"]: check for check in json.loads(checked.stdout)["checks"]}
    return checked.returncode, report


def test_a_restore_with_other_secrets_is_caught_by_idp_check(copies: Copies,
                                                             tmp_path: Path) -> None:
    use_provider(copies.source)
    back_up_and_restore(copies, tmp_path)

    code, report = check_report(copies.restored, IDP_KEY_ENCRYPTION_KEY=generate_key())
    assert code == 1
    assert report["keys"]["status"] == "problem"
    assert "cannot be decrypted with IDP_KEY_ENCRYPTION_KEY" in report["keys"]["detail"]
    assert report["database"]["status"] == "ok"  # the data came through; the KEK did not

    code, report = check_report(copies.restored, IDP_SECRET_KEY=generate_key())
    assert code == 1
    assert report["secret key"]["status"] == "problem"

    code, report = check_report(copies.restored)  # the secrets of the backed-up provider
    assert report["keys"]["status"] == report["secret key"]["status"] == "ok"


def test_the_audit_log_stays_append_only_after_a_restore(copies: Copies,
                                                         tmp_path: Path) -> None:
    """pg_restore creates the triggers after loading the rows (pg_dump's post-data
    section): the restore needs no setting, and the copy refuses deletions as before."""
    if copies.source.startswith("sqlite"):
        pytest.skip("the append-only triggers are PostgreSQL's")
    use_provider(copies.source)
    back_up_and_restore(copies, tmp_path)

    engine = sa.create_engine(copies.restored)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM audit_event"))
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text("TRUNCATE audit_event"))
    finally:
        engine.dispose()
