"""The schema comes only from Alembic: the migrations must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from idp.extensions import db


def test_migrations_match_the_models(app: Flask) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_no_code_path_creates_tables_outside_migrations() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [p for d in ("idp", "consent", "clients") for p in (root / d).rglob("*.py")]
    assert not [p for p in sources if "create_all(" in p.read_text()]
