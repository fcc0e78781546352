"""IDP_KEY_RECHECK_SECONDS: how long a process's key cache trusts itself before it looks
in the database for keys another process stored (a rotation, another instance)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from idp import create_app
from idp.extensions import db, utcnow
from idp.keys import create_signing_key, key_store
from idp.settings import ConfigError, decode_key, load_settings
from tests.conftest import KEK, TEST_CONFIG
from tests.conftest import test_settings as settings_for
from tests.instances import kept_keys  # noqa: F401  (a fixture)


def published(app: Flask) -> set[str]:
    with app.app_context():
        body, _ = key_store().jwks()
        db.session.remove()
    return {key["kid"] for key in json.loads(body)["keys"]}


@pytest.fixture
def instances(database_url: str) -> Iterator[tuple[Flask, Flask]]:
    """Two processes' caches on one database: one rechecks at every use, one hourly."""
    apps = tuple(create_app(settings=settings_for(database_url, key_recheck_seconds=seconds),
                            config=TEST_CONFIG) for seconds in (0, 3600))
    yield apps  # type: ignore[misc]
    for each in apps:
        with each.app_context():
            db.engine.dispose()


def test_the_recheck_time_comes_from_the_environment(tmp_path: Path) -> None:
    assert load_settings(tmp_path, {}).key_recheck_seconds == 30
    assert load_settings(tmp_path, {"IDP_KEY_RECHECK_SECONDS": "5"}).key_recheck_seconds == 5


@pytest.mark.parametrize(("value", "says"), [
    ("soon", "IDP_KEY_RECHECK_SECONDS must be a whole number"),
])
def test_a_recheck_time_that_is_not_a_number_is_refused(tmp_path: Path, value: str,
                                                       says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_settings(tmp_path, {"IDP_KEY_RECHECK_SECONDS": value})


def test_a_negative_recheck_time_is_refused(database_url: str) -> None:
    with pytest.raises(ConfigError, match="IDP_KEY_RECHECK_SECONDS must be 0 or more"):
        create_app(settings=settings_for(database_url, key_recheck_seconds=-1),
                   config=TEST_CONFIG)


def test_a_key_stored_elsewhere_is_seen_after_the_recheck_time(
        app: Flask, kept_keys: None, instances: tuple[Flask, Flask]) -> None:
    eager, lazy = instances
    before = published(eager), published(lazy)
    # A third process stores a key, as `idp keys rotate` does with a publish delay.
    row = create_signing_key("RS256", decode_key(KEK), activates_at=utcnow() + timedelta(hours=1))
    db.session.commit()
    kid = row.kid

    assert kid not in before[0] | before[1]
    assert kid in published(eager)
    assert kid not in published(lazy)



def test_an_invalidated_cache_looks_again_whatever_the_machine_s_uptime(
        app: Flask, kept_keys: None, database_url: str) -> None:
    """``invalidate`` (a rotation in this process) makes the next use read the keys, even
    when the recheck time is longer than the machine has been up: the monotonic clock
    counts from boot, and an invalidated cache once looked checked at its time 0."""
    trusting = create_app(settings=settings_for(database_url, key_recheck_seconds=10**9),
                          config=TEST_CONFIG)
    try:
        before = published(trusting)
        row = create_signing_key("ES256", decode_key(KEK),
                                 activates_at=utcnow() + timedelta(hours=1))
        db.session.commit()
        assert row.kid not in before | published(trusting)  # its cache, trusted

        trusting.extensions["idp.keys"].invalidate()
        assert row.kid in published(trusting)
    finally:
        with trusting.app_context():
            db.engine.dispose()
