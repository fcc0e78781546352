"""Refresh-token rotation is one transaction (issue 13, part 4): the old token is spent
and the new one written together, or neither. Authlib's order (save the new, commit,
spend the old, commit) left two live families when the second step failed.

The failure is the database's own: a PostgreSQL trigger refuses to spend a refresh token,
as a lost connection or a full disk would at that moment."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from idp.extensions import db
from idp.oauth.models import Token
from tests.browser import Browser
from tests.factories import Platform
from tests.tokens import issue_tokens, refresh

REFUSE_SPENDING = """
CREATE FUNCTION refuse_spending() RETURNS trigger AS $$
BEGIN
  IF OLD.refresh_used_at IS NULL AND NEW.refresh_used_at IS NOT NULL THEN
    RAISE EXCEPTION 'the disk is full';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_spending BEFORE UPDATE ON token
  FOR EACH ROW EXECUTE FUNCTION refuse_spending();
"""


def live_refresh_tokens() -> int:
    count = len(db.session.scalars(sa.select(Token).where(
        Token.refresh_token_hash.is_not(None), Token.refresh_used_at.is_(None),
        Token.revoked_at.is_(None))).all())
    db.session.rollback()  # no lock left on the table for the trigger's DDL
    return count


def test_a_failure_while_spending_the_old_token_writes_no_new_one(
        app: Flask, logged_in: Browser, platform: Platform) -> None:
    tokens = issue_tokens(logged_in, platform)
    assert live_refresh_tokens() == 1
    app.testing = False  # the failure answers as in production, not raised into the test
    with _trigger(app):
        response = refresh(logged_in.client, platform, tokens["refresh_token"])
        assert response.status_code >= 500
    assert live_refresh_tokens() == 1  # the old one, still usable: nothing half-done
    renewed = refresh(logged_in.client, platform, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.get_json()
    assert live_refresh_tokens() == 1


class _trigger:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def __enter__(self) -> None:
        if not str(db.engine.url).startswith("postgresql"):
            pytest.skip("the failure is injected by a PostgreSQL trigger")
        with db.engine.begin() as connection:
            connection.execute(sa.text(REFUSE_SPENDING))

    def __exit__(self, *exc: object) -> None:
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER refuse_spending ON token"))
            connection.execute(sa.text("DROP FUNCTION refuse_spending()"))
