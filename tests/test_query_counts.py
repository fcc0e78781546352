"""Database round trips per platform request (issue 13, part 5): the token comes with its
traveller, platform and the consent in force in one query, which is all userinfo reads;
introspection is the platform's authentication and the token, and a refresh adds only
the rotation's write. Counted on the real database, statement by statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask

from idp.extensions import db
from tests.browser import AuthorizationRequest, Browser, query_of
from tests.factories import Platform, make_platform
from tests.tokens import basic, issue_tokens, redeem


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def hook(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", hook)


def queries(seen: list[str]) -> list[str]:
    """Statements that read or write rows (not SAVEPOINT, SET or the like)."""
    return [s for s in seen if s.lstrip().split(None, 1)[0].upper() in
            ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")]


def test_userinfo_introspection_and_refresh_in_few_round_trips(
        app: Flask, logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    with statements() as seen:
        assert logged_in.client.get("/userinfo", headers=bearer).status_code == 200
    # The token, its traveller and platform, and the consent in force: one query.
    assert len(queries(seen)) == 1, queries(seen)

    with statements() as seen:
        answer = logged_in.client.post("/introspect", data={"token": tokens["access_token"]},
                                       headers=basic(platform))
        assert answer.get_json()["active"] is True
    # The token with its platform, which then authenticates: one query (the platform
    # read once, though the access log names it too).
    assert len(queries(seen)) == 1, queries(seen)

    with statements() as seen:
        renewed = logged_in.client.post("/token", headers=basic(platform), data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert renewed.status_code == 200, renewed.get_json()
    # The token with its platform and traveller, then spend it and write the new one:
    # in one statement on PostgreSQL, in two on SQLite (no UPDATE inside a WITH there).
    postgresql = db.engine.dialect.name == "postgresql"
    assert len(queries(seen)) == (2 if postgresql else 3), queries(seen)


def token_reads(seen: list[str]) -> dict[str, int]:
    """How many SELECTs read each token table (a grant's tokens, a platform's own)."""
    selects = [s for s in queries(seen) if s.lstrip().upper().startswith("SELECT")]
    return {table: sum(f"FROM {table} " in f"{s} ".replace('"', "") for s in selects)
            for table in ("token", "platform_token")}


@pytest.mark.parametrize("endpoint", ["/introspect", "/revoke"])
def test_a_token_without_a_hint_is_looked_for_in_one_read_per_table(
        app: Flask, logged_in: Browser, platform: Platform, endpoint: str) -> None:
    """Without ``token_type_hint`` (RFC 7009 2.1, RFC 7662 2.1: optional) the token may be
    either of a grant's two, or a platform's own: one read finds either of a grant's
    (issue 13: a refresh token took two, a platform's own token three)."""
    backend = make_platform(grant_types=["authorization_code", "client_credentials"])
    tokens = issue_tokens(logged_in, platform)
    own = logged_in.client.post("/token", headers=basic(backend), data={
        "grant_type": "client_credentials", "scope": "consent:read"}).get_json()
    for holder, token in ((platform, tokens["refresh_token"]),
                          (backend, own["access_token"])):
        with statements() as seen:
            answer = logged_in.client.post(endpoint, data={"token": token},
                                           headers=basic(holder))
            assert answer.status_code == 200, answer.get_data(as_text=True)
        if endpoint == "/introspect":
            assert answer.get_json()["active"] is True
        assert token_reads(seen) == {
            "token": 1, "platform_token": int(holder is backend)}, queries(seen)


def test_a_signed_in_travellers_code_flow_in_few_round_trips(
        app: Flask, logged_in: Browser, platform: Platform) -> None:
    """Single sign-on with the consent given before: authorize reads the platform, the
    session with its traveller, the nonce's replay check and the consent, then writes
    the code; the token request reads the platform and the code with its traveller,
    spends the code and writes the token. Nothing is read twice, nothing read again
    after a commit (issue 13: 17 statements were 9)."""
    issue_tokens(logged_in, platform)  # the consent, given once
    request = AuthorizationRequest(platform.client_id, platform.redirect_uri,
                                   scope="openid email offline_access")
    with statements() as seen:
        page = logged_in.authorize(request)
        assert page.status_code == 302, page.get_data(as_text=True)
    assert len(queries(seen)) <= 5, queries(seen)

    with statements() as seen:
        answer = redeem(logged_in.client, platform, query_of(page.location)["code"],
                        request.verifier)
        assert answer.status_code == 200, answer.get_json()
    # The code with its traveller and platform, then spend it and write the token: in
    # one statement on PostgreSQL, in two on SQLite.
    postgresql = db.engine.dialect.name == "postgresql"
    assert len(queries(seen)) == (2 if postgresql else 3), queries(seen)


def test_userinfos_query_is_prepared_once_per_connection(
        app: Flask, logged_in: Browser, platform: Platform, database_url: str) -> None:
    """psycopg prepares a statement on the server after a few runs on one connection
    (prepare_threshold, 5 by default): the hot query is then parsed and planned once,
    not at every call (issue 13, part 5)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's (SQLite caches its own)")
    tokens = issue_tokens(logged_in, platform)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    db.session.remove()
    db.engine.dispose()  # one connection from here on, which every request reuses
    for _ in range(8):
        assert logged_in.client.get("/userinfo", headers=bearer).status_code == 200
    prepared = db.session.scalars(sa.text(
        "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%FROM token%'"
        " AND statement LIKE '%in_force%'")).all()
    assert len(prepared) == 1, prepared
