"""Every query of every hot request goes through an index (issue 13, part 3): each request
a platform or a signed-in traveller makes all day is driven once on PostgreSQL, every
statement it sends is captured with its parameters, and PostgreSQL's own plan for each
SELECT, UPDATE and DELETE, with sequential scans priced out of reach, must not read a
whole table that grows with the travellers, nor count one.

A plan that reads the whole table is a ``Seq Scan``, or an index scan with no index
condition (a walk over the whole index, which ``enable_seqscan = off`` would otherwise
choose instead), unless it stops after a few rows (a ``Limit`` above it, no filter)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from idp.extensions import db
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, Traveller, make_platform
from tests.tokens import basic, redeem

# Small tables that do not grow with the travellers: read whole, they cost the same at
# 1,000 travellers as at 1,000,000. Every other table counts.
SMALL_TABLES = {"alembic_version", "signing_key"}
WRITES_OR_READS = ("SELECT", "UPDATE", "DELETE", "WITH")
SCOPE = "openid profile email offline_access"


@dataclass
class Statement:
    request: str
    sql: str
    parameters: Any


@contextmanager
def captured(request: str, into: list[Statement]) -> Iterator[None]:
    """Every statement sent to the database while the block runs, with its parameters."""
    def hook(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        if not executemany:
            into.append(Statement(request, statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", hook)


def growing(statement: Statement) -> set[str]:
    """The tables a statement names that grow with the travellers."""
    return {table for table in db.metadata.tables if table not in SMALL_TABLES
            and re.search(rf'\b"?{table}"?\b', statement.sql)}


def nodes(plan: dict[str, Any], parent: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    yield plan, parent
    for child in plan.get("Plans", []):
        yield from nodes(child, plan["Node Type"])


def whole_table_reads(connection: sa.Connection, statement: Statement) -> list[str]:
    """The growing tables this statement's plan reads whole, as plan lines."""
    if statement.sql.lstrip().split(None, 1)[0].upper() not in WRITES_OR_READS:
        return []
    raw = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement.sql}",
                                     statement.parameters).scalar_one()
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    found = []
    for node, parent in nodes(plan):
        table = node.get("Relation Name")
        if table is None or table in SMALL_TABLES:
            continue
        kind = node["Node Type"]
        walks_index = kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node
        stops_early = parent == "Limit" and "Filter" not in node
        if kind == "Seq Scan" or (walks_index and not stops_early):
            found.append(f"{kind} on {table} {node.get('Filter', '')}".strip())
    return found


def price_as_on_big_tables(connection: sa.Connection) -> None:
    """Plans as for tables of a million rows, within this transaction only (rolled back):
    each growing table's statistics say a million rows, so PostgreSQL picks the plan it
    would pick in production. On the test's few rows it may walk a whole index, in a
    merge join or under a nested loop, which costs nothing there (seen twice in CI: the
    session's traveller joined by a full index scan of user). The planner scales
    reltuples / relpages by the table's actual pages: one page of a million rows.
    Sequential scans, merge and hash joins are priced out as well."""
    for setting in ("enable_seqscan", "enable_mergejoin", "enable_hashjoin"):
        connection.exec_driver_sql(f"SET LOCAL {setting} = off")
    growing_tables = [t for t in db.metadata.tables if t not in SMALL_TABLES]
    connection.exec_driver_sql(
        "UPDATE pg_class SET reltuples = 1000000, relpages = 1 WHERE relkind = 'r' "
        "AND relnamespace = current_schema()::regnamespace AND relname = ANY(%(names)s)",
        {"names": growing_tables})


def plan_problems(statements: list[Statement]) -> list[str]:
    problems = []
    with db.engine.connect() as connection:
        price_as_on_big_tables(connection)
        for statement in statements:
            for read in whole_table_reads(connection, statement):
                problems.append(f"{statement.request}: {read}\n  {statement.sql}")
            if "count(" in statement.sql.lower() and growing(statement):
                problems.append(f"{statement.request}: counts\n  {statement.sql}")
        connection.rollback()
    return problems


def drive_hot_requests(browser: Browser, user: Traveller, web: Platform,
                       backend: Platform) -> list[Statement]:
    """Each hot request once, as the bench sends them, its statements captured."""
    client, seen = browser.client, list[Statement]()
    browser.get("/login")
    with captured("login POST", seen):
        assert browser.submit("/login", {"email": user.email, "password": user.password}
                              ).status_code in (302, 303)
    first = AuthorizationRequest(web.client_id, web.redirect_uri, scope=SCOPE)
    page = browser.authorize(first)
    if page.status_code == 200:
        browser.follow_local(browser.consent("allow"))
    again = AuthorizationRequest(web.client_id, web.redirect_uri, scope=SCOPE)
    with captured("authorize, signed in, consent given", seen):
        page = browser.authorize(again)
    assert page.status_code == 302, page.get_data(as_text=True)[:300]
    with captured("token with a code", seen):
        tokens = redeem(client, web, query_of(page.location)["code"], again.verifier).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    with captured("discovery", seen):
        assert client.get("/.well-known/openid-configuration").status_code == 200
    with captured("JWKS", seen):
        assert client.get("/jwks.json").status_code == 200
    # A platform's own requests carry no cookie, as the bench's: the first of each kind
    # is Flask's, the next answered under Flask (idp.oauth.*_direct), with statements of
    # their own.
    api = client.application.test_client()
    for way in ("", ", answered under Flask"):
        with captured(f"userinfo{way}", seen):
            assert api.get("/userinfo", headers=bearer).status_code == 200
        with captured(f"introspection{way}", seen):
            answer = api.post("/introspect", data={"token": tokens["access_token"]},
                              headers=basic(web))
            assert answer.get_json()["active"] is True
        with captured(f"refresh{way}", seen):
            renewed = api.post("/token", headers=basic(web), data={
                "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
            assert renewed.status_code == 200, renewed.get_json()
        tokens = renewed.get_json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        with captured(f"client credentials{way}", seen):
            own = api.post("/token", headers=basic(backend), data={
                "grant_type": "client_credentials", "scope": "consent:read"})
            assert own.status_code == 200
    direct = client.application.extensions["idp.prepared"].replayed
    assert direct >= 4, f"{direct} answers under Flask: the direct statements were not seen"
    with captured("introspection of a platform's own token", seen):
        answer = client.post("/introspect", data={"token": own.get_json()["access_token"]},
                             headers=basic(backend))
        assert answer.get_json()["active"] is True
    with captured("revocation", seen):
        assert client.post("/revoke", headers=basic(web), data={
            "token": tokens["access_token"]}).status_code == 200
    return seen


@pytest.fixture
def hot_statements(app: Flask, browser: Browser, user: Traveller,
                   platform: Platform) -> list[Statement]:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the plans are PostgreSQL's, the production database")
    backend = make_platform(grant_types=["authorization_code", "client_credentials"])
    return drive_hot_requests(browser, user, platform, backend)


def test_no_hot_request_reads_or_counts_a_whole_growing_table(
        hot_statements: list[Statement]) -> None:
    # Discovery and JWKS may send nothing (prepared bytes); these cannot.
    requests = {statement.request for statement in hot_statements}
    assert {"login POST", "token with a code", "userinfo", "introspection", "refresh",
            "userinfo, answered under Flask", "introspection, answered under Flask",
            "refresh, answered under Flask", "client credentials, answered under Flask",
            "introspection of a platform's own token", "revocation"} <= requests, requests
    checked = [s for s in hot_statements if growing(s)]
    assert checked, "no statement on a growing table was captured"

    assert plan_problems(hot_statements) == []


def test_the_check_sees_a_lookup_lose_its_index(hot_statements: list[Statement]) -> None:
    """The test above can fail: without the unique index on the access token's digest,
    userinfo's lookup reads the whole token table."""
    userinfo = [s for s in hot_statements if s.request == "userinfo" and "token" in growing(s)]
    with db.engine.connect() as connection:
        price_as_on_big_tables(connection)
        assert not any(whole_table_reads(connection, s) for s in userinfo)
        connection.exec_driver_sql(
            "ALTER TABLE token DROP CONSTRAINT uq_token_access_token_hash")
        lost = [read for s in userinfo for read in whole_table_reads(connection, s)]
        connection.rollback()

    assert any("on token" in read for read in lost), lost


def test_every_hot_statement_keeps_its_conversion_in_psycopg(
        hot_statements: list[Statement]) -> None:
    """psycopg converts a query's placeholders once and keeps the result, for a query of
    at most MAX_CACHED_STATEMENT_LENGTH characters: a longer one is converted at every
    request (0.14 ms of CPU for the direct refresh's first statement, 4,388 long)."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    too_long = {(s.request, len(s.sql)) for s in hot_statements
                if len(s.sql) > MAX_CACHED_STATEMENT_LENGTH}

    assert too_long == set(), too_long
