"""Hot queries go through an index, whatever the number of rows (issue 13, part 3): the
database's own plan, with sequential scans priced out of reach (PostgreSQL) or read as
SCAN (SQLite), must not read the whole table."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from idp.digests import digest
from idp.extensions import db
from idp.oauth.grants import nonce_query
from tests.test_hot_query_plans import price_as_on_big_tables


def plan(statement: sa.Select[int]) -> str:
    connection = db.session.connection()
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "postgresql":
        # Planned as on a million rows: on the test's few, the planner may take any index
        # that narrows to one row (seen: client_id's, with the nonce as a filter).
        price_as_on_big_tables(connection)
        rows = connection.execute(sa.text(f"EXPLAIN {compiled}")).scalars()
    else:
        rows = (row[-1] for row in connection.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")))
    text = "\n".join(rows)
    db.session.rollback()
    return text


def reads_whole_table(text: str, table: str) -> bool:
    return f"Seq Scan on {table}" in text or f"SCAN {table}" in text.replace(
        f"SCAN {table} USING", "")


def test_a_nonce_is_found_by_index(app: Flask) -> None:
    text = plan(nonce_query().params(client_id="some-client",
                                     nonce_digest=digest("n-0S6_WzA2Mj")))
    assert not reads_whole_table(text, "authorization_code"), text
    assert "ix_authorization_code_client_nonce" in text, text
