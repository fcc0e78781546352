"""Alembic environment: the schema of the provider comes only from these migrations."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def process_revision_directives(context, revision, directives):  # noqa: ANN001
    # Do not write an empty migration when the models have not changed.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


# The key of the PostgreSQL advisory lock that serialises upgrades (any constant bigint
# that no other code of ours takes): "MobID" + 1 in ASCII.
MIGRATION_LOCK = 0x4D6F624944_01


@contextmanager
def migration_lock(connection: sa.Connection) -> Iterator[None]:
    """Several instances starting together run the migrations once: each upgrade holds
    a session-level advisory lock from before Alembic reads the current revision until
    it is done, so the next one finds the schema at head and does nothing. SQLite has
    a single writer and no such race across hosts: it needs nothing."""
    if connection.dialect.name != "postgresql":
        yield
        return
    taken = connection.execute(sa.select(sa.func.pg_try_advisory_lock(MIGRATION_LOCK))).scalar()
    if not taken:
        logger.info("Another instance is migrating the database; waiting for it.")
        connection.execute(sa.select(sa.func.pg_advisory_lock(MIGRATION_LOCK)))
    connection.commit()  # the lock outlives this transaction; Alembic begins its own
    try:
        yield
    finally:
        connection.rollback()  # a failed upgrade leaves its transaction aborted
        connection.execute(sa.select(sa.func.pg_advisory_unlock(MIGRATION_LOCK)))
        connection.commit()


def run_migrations_online() -> None:
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    with db.engine.connect() as connection, migration_lock(connection):
        context.configure(connection=connection, target_metadata=db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
