"""Hot statements on the driver's cursor (idp/direct_sql.py, issue 13) read and write
what SQLAlchemy would: the same values, entities attached to the session as loaded ones,
the engine's listeners and error handling kept. On SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import functools
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import joinedload, make_transient_to_detached
from sqlalchemy.orm.exc import DetachedInstanceError

from idp.accounts.models import BrowserSession, User
from idp.digests import digest
from idp.direct_sql import (
    Columns,
    DirectRead,
    DirectWrite,
    EntityRead,
    insert_row,
    insert_row_if,
    insert_row_when,
    json_list_has,
)
from idp.extensions import db, utcnow
from idp.guard import UnstorableInput
from idp.oauth.models import Client, Token, find_token_by, token_read
from idp.oauth.platform_tokens import PlatformToken
from idp.oauth.server import client_by_id
from idp.types import UTCDateTime
from tests.browser import Browser
from tests.factories import Platform
from tests.tokens import issue_tokens


def columns_of(entity: Any) -> dict[str, Any]:
    return {p.key: getattr(entity, p.key) for p in sa.inspect(type(entity)).column_attrs}


@pytest.fixture
def tokens(logged_in: Browser, platform: Platform) -> dict[str, Any]:
    return issue_tokens(logged_in, platform)


def orm_token(access_token: str) -> Token:
    token = db.session.scalar(
        db.select(Token).options(joinedload(Token.user), joinedload(Token.client))
        .where(Token.access_token_hash == digest(access_token)))
    assert token is not None
    return token


@pytest.mark.parametrize("lean", [False, True])
def test_a_direct_read_gives_every_value_the_orm_gives(
        app: Flask, tokens: dict[str, Any], lean: bool) -> None:
    """Every column of the token, its traveller and its platform: text, numbers, dates
    (UTCDateTime), JSON lists and objects, booleans. The lean read's columns left out
    (the password hash, the platform's keys) are loaded on first access."""
    with app.app_context():
        expected = orm_token(tokens["access_token"])
        wanted = [columns_of(expected), columns_of(expected.user), columns_of(expected.client)]
        db.session.remove()

        token = find_token_by("access_token_hash", digest(tokens["access_token"]), lean)
        assert token is not None
        assert [columns_of(token), columns_of(token.user), columns_of(token.client)] == wanted
        assert token.client.client_metadata["redirect_uris"]  # a JSON column


def test_the_entities_are_in_the_session_as_loaded_ones(
        app: Flask, tokens: dict[str, Any]) -> None:
    """Persistent, with nothing pending: a change is written at the commit, as for an
    entity the ORM loaded."""
    with app.app_context():
        token = find_token_by("access_token_hash", digest(tokens["access_token"]))
        assert token is not None
        for entity in (token, token.user, token.client):
            assert sa.inspect(entity).persistent
        assert not db.session.dirty and not db.session.new
        token.revoked_at = utcnow()
        assert list(db.session.dirty) == [token]
        db.session.commit()
        token_id = token.id
        db.session.remove()
        assert db.session.get(Token, token_id).revoked_at is not None  # type: ignore[union-attr]


def test_entities_in_no_session_are_as_sqlalchemy_makes_them(
        app: Flask, tokens: dict[str, Any]) -> None:
    """The computed answers' entities (``first_detached``): what
    ``make_transient_to_detached`` makes of the same values (persistent under their
    identity key, the columns not read expired), made without working it out per entity.
    A column the read left out raises rather than reading as empty; once in a session,
    it is loaded from its row."""
    with app.app_context():
        read = token_read("access_token_hash", lean=True)
        with db.engine.connect() as connection:
            found = read.first_detached(connection,
                                        {"token_hash": digest(tokens["access_token"])})
        assert found is not None
        token = found[0]
        for entity in (token, token.user, token.client):
            state = sa.inspect(entity)
            twin = state.mapper.class_manager.new_instance()
            loaded = {key: value for key, value in state.dict.items()
                      if key in state.mapper.column_attrs}
            sa.inspect(twin).dict.update(loaded)
            make_transient_to_detached(twin)
            assert state.detached and not state.modified
            assert state.key == sa.inspect(twin).key
            assert state.expired_attributes == sa.inspect(twin).expired_attributes
        assert "password_hash" in sa.inspect(token.user).expired_attributes
        with pytest.raises(DetachedInstanceError):
            _ = token.user.password_hash
        with pytest.raises(DetachedInstanceError):
            _ = token.client.jwks
        user = token.user
        db.session.add(user)
        assert user.password_hash == db.session.scalar(
            sa.select(User.password_hash).where(User.id == user.id))
        db.session.rollback()


def test_an_entity_already_in_the_session_is_the_one_returned(
        app: Flask, tokens: dict[str, Any], platform: Platform) -> None:
    with app.app_context():
        held = db.session.scalar(db.select(Client).where(Client.client_id == platform.client_id))
        held.client_name = "Renamed, not yet written"  # type: ignore[union-attr]
        token = find_token_by("access_token_hash", digest(tokens["access_token"]))
        assert token is not None and token.client is held
        assert token.client.client_name == "Renamed, not yet written"
        assert client_by_id().entity({"client_id": platform.client_id}) is held


def test_a_change_not_yet_written_is_read_as_the_orm_reads_it(
        app: Flask, platform: Platform) -> None:
    """The session's pending changes are flushed first (its autoflush), unless the
    caller turned that off."""
    name = DirectRead(sa.select(Client.client_name).where(
        Client.client_id == sa.bindparam("client_id")))
    with app.app_context():
        held = db.session.scalar(db.select(Client).where(Client.client_id == platform.client_id))
        assert held is not None
        held.client_name = "Pending"
        with db.session.no_autoflush:
            assert name.first({"client_id": platform.client_id}) != ["Pending"]
        assert name.first({"client_id": platform.client_id}) == ["Pending"]
        db.session.rollback()


def test_an_unknown_value_finds_nothing(app: Flask, tokens: dict[str, Any]) -> None:
    with app.app_context():
        assert find_token_by("access_token_hash", digest("no such token")) is None
        assert client_by_id().entity({"client_id": "nobody"}) is None


def test_the_engine_listeners_see_each_statement(app: Flask, platform: Platform) -> None:
    """The round-trip counters see the SELECT, and the guard on parameters refuses a
    value no column may hold, before the database sees it."""
    seen: list[str] = []

    def hook(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", hook)
        try:
            assert client_by_id().entity({"client_id": platform.client_id}) is not None
            with pytest.raises(UnstorableInput):
                client_by_id().entity({"client_id": "a\x00b"})
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", hook)
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("SELECT")


def test_a_driver_error_is_sqlalchemys_and_the_session_goes_on(app: Flask,
                                                                platform: Platform) -> None:
    broken = DirectRead(sa.select(sa.column("nothing")).select_from(sa.table("no_such_table")))
    with app.app_context():
        with pytest.raises(sa.exc.DBAPIError):
            broken.first({})
        db.session.rollback()
        assert client_by_id().entity({"client_id": platform.client_id}) is not None


def test_a_limit_written_in_the_statement_is_sent(app: Flask, tokens: dict[str, Any]) -> None:
    read = DirectRead(sa.select(Token.id).order_by(Token.id).limit(1))
    with app.app_context():
        assert len(read.rows({})) == 1


def test_a_parameter_goes_through_its_types_conversion(
        app: Flask, tokens: dict[str, Any]) -> None:
    """A date compared with a UTCDateTime column is converted as SQLAlchemy converts it
    (stored naive in UTC on SQLite): a read on either side of the token's time finds it
    or not."""
    after = DirectRead(sa.select(Token.id).where(
        Token.issued_at > sa.bindparam("since", type_=UTCDateTime())))
    with app.app_context():
        issued = db.session.scalar(sa.select(Token.issued_at))
        assert issued is not None
        assert len(after.rows({"since": issued - timedelta(seconds=1)})) == 1
        assert after.rows({"since": issued + timedelta(seconds=1)}) == []


def test_a_relation_that_may_be_empty_is_refused(app: Flask) -> None:
    with pytest.raises(TypeError, match="sessions"):
        EntityRead(Columns(User), User.id == sa.bindparam("id"),
                   joined={"sessions": Columns(BrowserSession)})


def test_an_insert_fills_the_python_defaults_and_converts_each_value(
        app: Flask, user: Any, platform: Platform) -> None:
    """The row written is the one the ORM would write: defaults given in Python (the
    time of issue, empty JSON lists) filled, dates and JSON converted."""
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id))
        before = utcnow()
        insert_row(Token, {"client_id": platform.client_id, "user_id": user_id,
                           "access_token_hash": digest("direct"), "scope": "openid",
                           "expires_in": 60, "auth_time": before, "claims": ["email"],
                           "claims_request": {"userinfo": {"email": None}}})
        db.session.commit()
        db.session.remove()
        token = db.session.scalar(sa.select(Token).where(
            Token.access_token_hash == digest("direct")))
        assert token is not None
        assert token.issued_at >= before and token.auth_time == before
        assert token.amr == [] and token.claims == ["email"]
        assert token.claims_request == {"userinfo": {"email": None}}


def test_an_update_counts_the_rows_it_wrote(app: Flask, tokens: dict[str, Any]) -> None:
    table = Token.__table__
    spend = DirectWrite(sa.update(table).where(
        table.c.id == sa.bindparam("token_id"), table.c.revoked_at.is_(None))
        .values(revoked_at=sa.bindparam("now")))
    with app.app_context():
        token_id = db.session.scalar(sa.select(Token.id))
        assert spend.run({"token_id": token_id, "now": utcnow()}) == 1
        assert spend.run({"token_id": token_id, "now": utcnow()}) == 0
        db.session.commit()
        assert db.session.scalar(sa.select(Token.revoked_at)) is not None


def test_a_claimed_insert_writes_only_when_its_claim_changes_a_row(
        app: Flask, tokens: dict[str, Any], database_url: str) -> None:
    """``insert_row_if``: the UPDATE and the INSERT in one statement; a claim that
    changes no row (spent before) writes nothing; the row written has its defaults."""
    if not database_url.startswith("postgresql"):
        pytest.skip("an UPDATE inside a WITH is PostgreSQL's")
    table = Token.__table__
    spend = (sa.update(table)
             .where(table.c.id == sa.bindparam("token_id"), table.c.revoked_at.is_(None))
             .values(revoked_at=sa.bindparam("now")))
    with app.app_context():
        old = db.session.scalar(sa.select(Token))
        assert old is not None
        old_id, before = old.id, utcnow()

        def new(name: str) -> dict[str, Any]:
            return {"client_id": old.client_id, "user_id": old.user_id, "scope": "openid",
                    "access_token_hash": digest(name), "expires_in": 60,
                    "auth_time": before, "claims": ["email"]}

        spent = {"token_id": old_id, "now": before}
        assert insert_row_if(spend, Token, new("first"), spent) == 1
        assert insert_row_if(spend, Token, new("second"), spent) == 0
        db.session.commit()
        db.session.remove()
        written = db.session.scalars(sa.select(Token).where(
            Token.access_token_hash.in_([digest("first"), digest("second")]))).all()
        assert [t.access_token_hash for t in written] == [digest("first")]
        assert written[0].issued_at >= before and written[0].amr == []
        assert written[0].claims == ["email"]
        assert db.session.scalar(sa.select(Token.revoked_at).where(Token.id == old_id)) == before


def cursors_of(app: Flask, *reads: tuple[DirectRead, dict[str, Any]]) -> list[Any]:
    """The driver cursor each read ran on, one after the other on one connection."""
    used: list[Any] = []

    def hook(conn: object, cursor: Any, *args: object) -> None:
        used.append(cursor)

    with app.app_context(), db.engine.connect() as connection:
        sa.event.listen(db.engine, "before_cursor_execute", hook)
        try:
            for read, params in reads:
                with contextlib.suppress(sa.exc.DBAPIError):
                    read.first_on(connection, params)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", hook)
    return used


def test_a_connection_keeps_its_cursor_from_one_statement_to_the_next(
        app: Flask, platform: Platform, database_url: str) -> None:
    """On psycopg, each statement on a connection runs on the cursor the last one used
    (a new cursor works out every column's loader afresh); sqlite3's are not kept."""
    read = client_by_id().read
    first, second = cursors_of(app, (read, {"client_id": platform.client_id}),
                               (read, {"client_id": "somebody-else"}))
    if database_url.startswith("postgresql"):
        assert first is second and not first.closed
    else:
        assert first is not second


def test_a_cursor_that_met_an_error_is_not_used_again(
        app: Flask, platform: Platform, database_url: str) -> None:
    broken = DirectRead(sa.select(sa.column("nothing")).select_from(sa.table("no_such_table")))
    read = client_by_id().read
    _, failed, after, again = cursors_of(app, (read, {"client_id": platform.client_id}),
                                         (broken, {}), (read, {"client_id": platform.client_id}),
                                         (read, {"client_id": platform.client_id}))
    assert after is not failed
    if database_url.startswith("postgresql"):
        assert failed.closed and again is after
    with app.app_context(), db.engine.connect() as connection:
        assert client_by_id().read.first_on(connection, {"client_id": platform.client_id})


# A condition built once, as a hot statement's are: a platform by id, registered for a
# grant (``json_list_has`` on its JSON list of grant types).
@functools.cache
def registered_for(grant_type: str) -> sa.ColumnElement[bool]:
    clients = Client.__table__.c
    return sa.exists().where(clients.client_id == sa.bindparam("client_id"),
                             json_list_has(clients.grant_types, grant_type))


def test_an_insert_when_writes_only_if_its_condition_holds(
        app: Flask, platform: Platform) -> None:
    """``insert_row_when``, on both databases: one statement that writes the row only if
    the condition holds (``json_list_has``: an element equal to the value, not one that
    merely contains it), with its defaults."""
    with app.app_context():
        client = db.session.get(Client, platform.model.id)
        assert client is not None
        client.grant_types = ["authorization_code", "my_client_credentials"]
        db.session.commit()
        before = utcnow()

        def row(name: str) -> dict[str, Any]:
            return {"client_id": platform.client_id, "access_token_hash": digest(name),
                    "scope": "consent:read", "expires_in": 60}

        params = {"client_id": platform.client_id}
        assert insert_row_when(registered_for("authorization_code"), PlatformToken,
                               row("first"), params) == 1
        assert insert_row_when(registered_for("client_credentials"), PlatformToken,
                               row("second"), params) == 0
        assert insert_row_when(registered_for("authorization_code"), PlatformToken,
                               row("third"), {"client_id": "nobody"}) == 0
        db.session.commit()
        db.session.remove()
        written = db.session.scalars(sa.select(PlatformToken).where(
            PlatformToken.access_token_hash.in_(
                [digest("first"), digest("second"), digest("third")]))).all()
        assert [t.access_token_hash for t in written] == [digest("first")]
        assert written[0].issued_at >= before and written[0].revoked_at is None
