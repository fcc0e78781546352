"""Several instances starting together migrate the database once: ``idp db upgrade``
holds a PostgreSQL advisory lock from before Alembic reads the current revision."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.docker.processes import ROOT, container_environ, run

MIGRATIONS = ROOT / "idp" / "migrations"


def migration_lock_key() -> int:
    """The lock's key, read from env.py (which runs only inside Alembic)."""
    found = re.search(r"^MIGRATION_LOCK = (\S+)", (MIGRATIONS / "env.py").read_text(), re.M)
    assert found, "idp/migrations/env.py defines no MIGRATION_LOCK"
    return int(found.group(1), 0)


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def wait_for_waiters(conn: sa.Connection, count: int, deadline: float) -> None:
    """Until ``count`` sessions wait for an advisory lock in this database."""
    query = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database"
                    "                 WHERE datname = current_database())")
    while conn.scalar(query) < count:
        assert time.monotonic() < deadline, f"fewer than {count} upgrades wait for the lock"
        time.sleep(0.05)


def test_two_instances_started_together_migrate_once(fresh_postgres: str,
                                                     tmp_path: Path) -> None:
    environ = container_environ(fresh_postgres, 8000, tmp_path / "secrets")
    engine = sa.create_engine(fresh_postgres)
    with engine.connect() as holder:
        # The test holds the lock first, so that both instances are surely at the gate
        # together when it opens: the race is certain, not left to timing.
        holder.execute(sa.select(sa.func.pg_advisory_lock(migration_lock_key())))
        instances = [run("migrate", environ, tmp_path) for _ in range(2)]
        try:
            wait_for_waiters(holder, 2, time.monotonic() + 60)
        finally:
            holder.execute(sa.select(sa.func.pg_advisory_unlock(migration_lock_key())))
        outputs = [finish(instance) for instance in instances]

    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == head_revision()
    engine.dispose()
    ran = [output for output in outputs if "Running upgrade" in output]
    assert len(ran) == 1, outputs
    assert all("waiting for it" in output for output in outputs)


def finish(instance: subprocess.Popen[str]) -> str:
    output, _ = instance.communicate(timeout=120)
    assert instance.returncode == 0, output
    return output


def test_an_upgrade_at_head_changes_nothing_and_releases_the_lock(fresh_postgres: str,
                                                                  tmp_path: Path) -> None:
    environ = container_environ(fresh_postgres, 8000, tmp_path / "secrets")
    first = finish(run("migrate", environ, tmp_path))
    again = finish(run("migrate", environ, tmp_path))

    assert "Running upgrade" in first and "Running upgrade" not in again
    engine = sa.create_engine(fresh_postgres)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.pg_try_advisory_lock(migration_lock_key())))
    engine.dispose()
