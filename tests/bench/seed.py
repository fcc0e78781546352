"""The bench's database: migrated, two platforms, a few travellers who really went through
the code flow (their rows are what the provider itself writes), then as many more as
asked, cloned from those rows inside PostgreSQL (INSERT ... SELECT over generate_series):
minutes for a million travellers (each with up to TEMPLATE_ROWS consent records, codes
and tokens: some 13 million rows, about 20 minutes on a busy 2-core machine), not the
days a million password hashes would take.

Each clone gets its own identifiers and digests; everything else is the model row's, so
the clones look to every query exactly like the travellers the provider made."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from idp.extensions import db

# Columns that must differ per clone: a SQL expression of ``g`` (1..n) and the salt (hex).
UNIQUE_TEXT = "encode(sha256(convert_to('{salt}-' || g::text || '-{col}', 'UTF8')), 'hex')"
CLONED_TABLES = ("user", "consent_record", "authorization_code", "token")
TEMPLATE_ROWS = 4


def reset(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def ensure_database(url: str) -> None:
    """Create the bench's database beside ``postgres`` when it is missing."""
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                   {"n": target.database})
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def _expression(column: sa.Column[Any], template: dict[str, Any],
                overrides: dict[str, str], salt: str) -> Any:
    if column.name in overrides:
        return sa.literal_column(overrides[column.name].format(col=column.name, salt=salt))
    value = template[column.name]
    if column.unique and isinstance(column.type, sa.String) and value is not None:
        return sa.literal_column(UNIQUE_TEXT.format(col=column.name, salt=salt)).cast(
            column.type)
    return sa.literal(value, type_=column.type)


def clone(table_name: str, template: dict[str, Any], count: int, salt: str,
          overrides: dict[str, str]) -> None:
    """Insert ``count`` copies of ``template`` into ``table_name`` in one statement."""
    table = db.metadata.tables[table_name]
    columns = [c for c in table.columns if not (c.primary_key and c.name not in overrides)]
    series = sa.func.generate_series(1, count).table_valued("g").render_derived()
    if not all(ch in "0123456789abcdef-" for ch in salt):
        raise ValueError("the salt is written into SQL: hex digits and dashes only")
    select = sa.select(*(_expression(c, template, overrides, salt).label(c.name)
                         for c in columns)).select_from(series)
    db.session.execute(sa.insert(table).from_select([c.name for c in columns], select))


def count_travellers() -> int:
    return int(db.session.scalar(sa.text('SELECT count(*) FROM "user"')) or 0)


def multiply(model_user_id: int, count: int, salt: str) -> None:
    """``count`` more travellers like ``model_user_id``: the account, its consent records,
    its codes and its tokens, each clone with ids of its own."""
    if count <= 0:
        return
    base = db.session.scalar(sa.text('SELECT max(id) FROM "user"'))
    user_id = f"{base} + g"
    user = dict(db.session.execute(sa.text('SELECT * FROM "user" WHERE id = :id'),
                                   {"id": model_user_id}).mappings().one())
    clone("user", user, count, salt, {
        "id": user_id,
        "email": "'clone-{salt}-' || g::text || '@bench.example'"})
    for table in CLONED_TABLES[1:]:
        model = db.metadata.tables[table]
        # The model's first rows (its first visit), not the thousands a measured refresh
        # left behind: growing 1,000 travellers to 1,000,000 clones the same few rows.
        rows = db.session.execute(sa.select(model).where(
            model.c.user_id == model_user_id).order_by(model.c.id).limit(
                TEMPLATE_ROWS)).mappings().all()
        for row in rows:
            extra = {"user_id": user_id}
            if table == "token":
                extra["authorization_code_id"] = "NULL"
            if table == "authorization_code" and row.get("nonce"):
                extra["nonce"] = UNIQUE_TEXT
            clone(table, dict(row), count, f"{salt}-{row['id']}", extra)
    db.session.execute(sa.text(
        "SELECT setval(pg_get_serial_sequence('\"user\"', 'id'), (SELECT max(id) FROM \"user\"))"))
    db.session.commit()
    settle(db.engine.url)


def settle(url: sa.URL) -> None:
    """VACUUM and ANALYZE the grown tables before anything is measured: a million rows
    just inserted set off autovacuum, which would otherwise run during the measurement
    (its CPU counted as PostgreSQL's, its I/O slowing every request) and leave the
    visibility map unset. A table in service has been vacuumed. VACUUM runs outside a
    transaction, so on a connection of its own, without the app's listeners."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
    finally:
        engine.dispose()
