"""The container tests' fixtures."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL
from tests.docker.processes import scratch_url


@pytest.fixture
def fresh_postgres() -> str:
    """The scratch database, created when missing, with an empty public schema."""
    url = scratch_url()
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = sa.make_url(url).database
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url
