"""The refresh grant's common request answered under Flask (idp.oauth.refresh_direct,
issue 13 part 2a), on PostgreSQL: an answer, an ID token and a stored row like Flask's
path's, the old token spent in the same statement, counted as a token issued;
everything Flask must judge goes to Flask, body and all; a reuse still revokes the
family; a failed write leaves nothing half-done. On SQLite Flask answers every refresh
(spending and writing are two statements there)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from authlib.oidc.core.grants.util import create_half_hash
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.digests import digest
from idp.extensions import db, utcnow
from idp.logs import CLIENT_ID, TRAVELLER
from idp.oauth.access_tokens import JWT_ACCESS_TOKENS
from idp.oauth.models import Token
from idp.oauth.subjects import KNOWN, PairwiseSubject, sector_of
from tests.browser import Browser
from tests.factories import Platform, make_platform
from tests.oauth.test_client_credentials_direct import counted_once
from tests.oauth.test_introspection_direct import environ_of, wsgi
from tests.oauth.test_refresh_atomic import _trigger, live_refresh_tokens
from tests.oauth.test_userinfo_direct import api, fixed_headers, prepared  # noqa: F401
from tests.test_lazy_transactions import messages, round_trips
from tests.test_metrics import app, scrape  # noqa: F401  (its app has a metrics token)
from tests.test_query_counts import queries, statements
from tests.tokens import basic, issue_tokens, userinfo, verify_id_token

GRANT = "refresh_token"
SCOPE = "openid email offline_access"
# What differs between two answers or two rows made a moment apart.
PER_TOKEN = {"access_token", "refresh_token", "id_token"}
PER_ROW = {"id", "access_token_hash", "refresh_token_hash", "issued_at",
           "authorization_code_id", "refresh_token_expires_at", "revoked_at",
           "refresh_used_at"}


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def ask(api: FlaskClient, platform: Platform, refresh_token: str,
        headers: dict[str, str] | None = None, **data: str) -> TestResponse:
    return api.post("/token", data={"grant_type": GRANT, "refresh_token": refresh_token,
                                    **data}, headers={**basic(platform), **(headers or {})})


def direct(app: Flask, api: FlaskClient, platform: Platform, refresh_token: str) -> TestResponse:
    """A refresh with Basic credentials; fails unless made under Flask."""
    before = prepared(app).replayed
    response = ask(api, platform, refresh_token)
    assert prepared(app).replayed == before + 1, "the refresh went to Flask"
    return response


def from_flask(app: Flask, api: FlaskClient, platform: Platform, refresh_token: str,
               **options: Any) -> TestResponse:
    before = prepared(app).replayed
    response = ask(api, platform, refresh_token, **options)
    assert prepared(app).replayed == before, "the refresh was answered under Flask"
    return response


def warmed(app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform) -> None:
    """One refresh answered by Flask (its headers kept): the next are direct."""
    first = from_flask(app, api, platform, issue_tokens(logged_in, platform, SCOPE)
                       ["refresh_token"])
    assert first.status_code == 200, first.get_json()


def row_of(refresh_token: str) -> Token:
    db.session.expire_all()
    return db.session.scalars(sa.select(Token).where(
        Token.refresh_token_hash == digest(refresh_token))).one()


def columns(row: Token, left_out: set[str]) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in sa.inspect(Token).column_attrs
            if c.key not in left_out}


@pytest.fixture
def direct_only(app: Flask) -> None:
    if not on_postgresql():
        pytest.skip("on SQLite Flask answers every refresh (test_sqlite_refreshes_go_to_flask)")


def test_the_direct_answer_token_and_row_are_those_of_flasks_path(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        direct_only: None) -> None:
    warmed(app, api, logged_in, platform)
    theirs_old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    mine_old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    flask_environ = environ_of(app, platform, {"grant_type": GRANT, GRANT: theirs_old},
                               path="/token")
    flask = wsgi(prepared(app).app, flask_environ)
    direct_environ = environ_of(app, platform, {"grant_type": GRANT, GRANT: mine_old},
                                path="/token")
    before = prepared(app).replayed

    answer = wsgi(app, direct_environ)

    assert prepared(app).replayed == before + 1
    assert answer.status_code == flask.status_code == 200, answer.get_json()
    mine, theirs = answer.get_json(), flask.get_json()
    assert set(mine) == set(theirs) == {"access_token", "expires_in", "id_token",
                                        "refresh_token", "scope", "token_type"}
    assert {k: v for k, v in mine.items() if k not in PER_TOKEN} \
        == {k: v for k, v in theirs.items() if k not in PER_TOKEN}
    assert fixed_headers(answer) == fixed_headers(flask)
    assert direct_environ[CLIENT_ID] == flask_environ[CLIENT_ID] == platform.client_id
    assert direct_environ[TRAVELLER] == flask_environ[TRAVELLER]
    # The ID token: signed by the same key, the same claims but its times and at_hash.
    my_claims = verify_id_token(api, mine["id_token"])
    their_claims = verify_id_token(api, theirs["id_token"])
    assert my_claims["_header"] == their_claims["_header"]
    assert my_claims["at_hash"] == create_half_hash(mine["access_token"], "RS256").decode()
    assert "nonce" not in my_claims
    timed = {"iat", "exp", "at_hash"}
    assert {k: v for k, v in my_claims.items() if k not in timed} \
        == {k: v for k, v in their_claims.items() if k not in timed}
    assert my_claims["exp"] - my_claims["iat"] == their_claims["exp"] - their_claims["iat"]
    # The rows: the new one as Flask's path writes it, in the old one's family, keeping
    # its absolute lifetime; the old one spent and revoked.
    new, flask_new = row_of(mine["refresh_token"]), row_of(theirs["refresh_token"])
    spent, flask_spent = row_of(mine_old), row_of(theirs_old)
    assert columns(new, PER_ROW) == columns(flask_new, PER_ROW)
    assert new.access_token_hash == digest(mine["access_token"])
    assert new.authorization_code_id == spent.authorization_code_id
    assert new.refresh_token_expires_at == spent.refresh_token_expires_at
    assert new.revoked_at is None and new.refresh_used_at is None
    for old in (spent, flask_spent):
        assert old.refresh_used_at is not None and old.revoked_at is not None


def test_the_new_tokens_work_and_a_reuse_of_the_old_one_ends_the_family(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        direct_only: None) -> None:
    warmed(app, api, logged_in, platform)
    old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    renewed = direct(app, api, platform, old).get_json()
    assert userinfo(api, renewed["access_token"]).status_code == 200

    reused = from_flask(app, api, platform, old)

    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    assert userinfo(api, renewed["access_token"]).status_code == 401
    assert from_flask(app, api, platform, renewed["refresh_token"]).status_code == 400


def test_a_direct_refresh_is_one_statement_in_one_round_trip(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        direct_only: None, tmp_path: Path) -> None:
    """The token spent, its successor written and what the answer needs returned, by one
    statement: atomic by itself, so no BEGIN and no COMMIT (issue 13, part 2a: the
    token's read, then that write, were two round trips)."""
    warmed(app, api, logged_in, platform)
    old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    with messages(tmp_path) as sent, statements() as seen:
        db.engine.dispose()  # this thread's held connection is taken again, and traced
        answer = direct(app, api, platform, old)

    assert answer.status_code == 200, answer.get_json()
    assert len(queries(seen)) == 1, seen
    assert not [m for m in sent if m.startswith("Query")], sent
    assert round_trips(sent) == 1, sent
    assert row_of(old).refresh_used_at is not None
    assert row_of(answer.get_json()["refresh_token"]).revoked_at is None


def test_a_pairwise_sub_not_known_to_be_stored_is_stored_with_the_answer(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        direct_only: None) -> None:
    """As in a process that never saw the pair, with its row gone: the direct answer
    stores it (the platform can be told of this traveller by that ``sub``) and then
    knows it."""
    warmed(app, api, logged_in, platform)
    old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    user_id = row_of(old).user_id
    db.session.execute(sa.delete(PairwiseSubject).where(PairwiseSubject.user_id == user_id))
    db.session.commit()
    app.extensions[KNOWN].clear()

    answer = direct(app, api, platform, old)

    sub = verify_id_token(api, answer.get_json()["id_token"])["sub"]
    stored = db.session.scalars(sa.select(PairwiseSubject).where(
        PairwiseSubject.user_id == user_id)).one()
    assert (stored.sector, stored.sub) == (sector_of(platform.model), sub)
    assert (user_id, stored.sector, sub) in app.extensions[KNOWN]


def test_a_direct_refresh_is_counted_as_issued(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        direct_only: None) -> None:
    warmed(app, api, logged_in, platform)
    old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    before = scrape(api)

    direct(app, api, platform, old)

    counted_once(before, scrape(api), GRANT)


def test_a_failed_write_leaves_the_old_token_and_nothing_else(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        direct_only: None) -> None:
    """The database refuses to spend the token (as a full disk would): the direct
    answer writes nothing and leaves the request to Flask, whose path fails the same
    way; the old token still works afterwards."""
    warmed(app, api, logged_in, platform)
    old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    live = live_refresh_tokens()
    app.testing = False  # the failure answers as in production, not raised into the test
    with _trigger(app):
        failed = ask(api, platform, old)
        assert failed.status_code >= 500
    assert live_refresh_tokens() == live
    assert direct(app, api, platform, old).status_code == 200
    assert live_refresh_tokens() == live


# As if another request spent the token between this one's read and its write: the
# claim (an UPDATE in a WITH) finds no row to change.
SPENT_MEANWHILE = """
CREATE FUNCTION spent_meanwhile() RETURNS trigger AS $$
BEGIN
  IF OLD.refresh_used_at IS NULL AND NEW.refresh_used_at IS NOT NULL THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER spent_meanwhile BEFORE UPDATE ON token
  FOR EACH ROW EXECUTE FUNCTION spent_meanwhile();
"""


def test_a_token_spent_meanwhile_answers_nothing_here_and_ends_the_family(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform,
        direct_only: None) -> None:
    """Nothing is written by the direct answer's statement, so it answers nothing: Flask's
    path meets the same race and revokes the family (RFC 9700 4.14.2)."""
    warmed(app, api, logged_in, platform)
    tokens = issue_tokens(logged_in, platform, SCOPE)
    live = live_refresh_tokens()
    with db.engine.begin() as connection:
        connection.execute(sa.text(SPENT_MEANWHILE))
    try:
        raced = from_flask(app, api, platform, tokens["refresh_token"])
    finally:
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER spent_meanwhile ON token"))
            connection.execute(sa.text("DROP FUNCTION spent_meanwhile()"))

    assert raced.status_code == 400 and raced.get_json()["error"] == "invalid_grant"
    assert live_refresh_tokens() == live - 1  # the family's one live token, revoked
    assert userinfo(api, tokens["access_token"]).status_code == 401


def set_row(refresh_token: str, **values: Any) -> None:
    """Columns of a token's row, as another path would have written them."""
    db.session.execute(sa.update(Token).where(
        Token.refresh_token_hash == digest(refresh_token)).values(**values))
    db.session.commit()


@pytest.mark.parametrize(("case", "status", "error"), [
    ("wrong-secret", 401, "invalid_client"),
    ("another-platform", 400, "invalid_grant"),
    ("unknown-token", 400, "invalid_grant"),
    ("revoked", 400, "invalid_grant"),
    ("spent", 400, "invalid_grant"),
    ("lapsed", 400, "invalid_grant"),
    ("narrower-scope", 200, None),
    ("scope-no-longer-allowed", 200, None),
    ("resource", 400, "invalid_target"),
    ("dpop", 400, "invalid_dpop_proof"),
    ("bound-to-a-key", 200, None),
    ("claims-request", 200, None),
    ("exchanged", 400, "invalid_grant"),
    ("jwt-tokens", 200, None),
    ("not-registered", 400, "unauthorized_client"),
    ("no-secret-method", 401, "invalid_client"),
])
def test_requests_flask_must_judge_go_to_flask_body_and_all(
        app: Flask, api: FlaskClient, logged_in: Browser, platform: Platform, case: str,
        status: int, error: str | None, direct_only: None) -> None:
    """Each rule of the grant that the request breaks (each a condition of the direct
    statement) leaves the request to Flask, with nothing written: the answer is
    Flask's path's, from the token as it was."""
    warmed(app, api, logged_in, platform)
    token = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]
    asker: Platform = platform
    sent: dict[str, Any] = {}
    if case == "wrong-secret":
        sent["headers"] = basic(platform, secret="not-the-secret")
    elif case == "another-platform":
        # Even one holding the same secret (the statement checks whose token it is,
        # not only whose secret was sent).
        asker = make_platform()
        asker.model.client_secret_hash = platform.model.client_secret_hash
        db.session.commit()
        sent["headers"] = basic(asker, secret=platform.secret)
    elif case == "unknown-token":
        token = "A" * 43
    elif case == "revoked":
        revoked = api.post("/revoke", data={"token": token}, headers=basic(platform))
        assert revoked.status_code == 200
    elif case == "spent":
        set_row(token, refresh_used_at=utcnow())
    elif case == "lapsed":
        set_row(token, refresh_token_expires_at=utcnow() - timedelta(seconds=1))
    elif case == "narrower-scope":
        sent["scope"] = "openid offline_access"
    elif case == "scope-no-longer-allowed":
        platform.model.scope = "openid offline_access"
        db.session.commit()
    elif case == "bound-to-a-key":
        set_row(token, dpop_jkt="A" * 43)
    elif case == "claims-request":
        set_row(token, claims_request={"id_token": {"email": None}})
    elif case == "exchanged":
        set_row(token, audience="https://api.example/trips")
    elif case == "no-secret-method":
        platform.model.token_endpoint_auth_method = "private_key_jwt"
        db.session.commit()
    elif case == "resource":
        sent["resource"] = "https://api.example/trips"
    elif case == "dpop":
        sent["headers"] = {"DPoP": "not-a-proof"}
    elif case == "jwt-tokens":
        platform.model.access_token_format = JWT_ACCESS_TOKENS
        db.session.commit()
    elif case == "not-registered":
        platform.model.grant_types = ["authorization_code"]
        db.session.commit()

    response = from_flask(app, api, asker, token, **sent)

    assert response.status_code == status, response.get_json()
    if error is not None:
        assert response.get_json()["error"] == error
    if case in ("narrower-scope", "scope-no-longer-allowed"):
        assert response.get_json()["scope"] == "openid offline_access"
    if case == "claims-request":
        claims = verify_id_token(api, response.get_json()["id_token"])
        assert "@" in claims["email"]  # asked in the ID token, within the consent
    if case == "jwt-tokens":
        assert response.get_json()["access_token"].count(".") == 2


def test_sqlite_refreshes_go_to_flask(app: Flask, api: FlaskClient, logged_in: Browser,
                                      platform: Platform) -> None:
    if on_postgresql():
        pytest.skip("SQLite's case")
    warmed(app, api, logged_in, platform)
    old = issue_tokens(logged_in, platform, SCOPE)["refresh_token"]

    renewed = from_flask(app, api, platform, old)

    assert renewed.status_code == 200 and renewed.get_json()["id_token"]
