"""``idp demo``: a demo traveller and platform, ready to try, however often it runs."""

from __future__ import annotations

import json

from click.testing import CliRunner

from clients.demo import DEMO_CLIENT_ID, DEMO_EMAIL, DEMO_PASSWORD, DEMO_REDIRECT_URI
from idp.accounts.models import User
from idp.accounts.service import authenticate
from idp.extensions import db
from idp.oauth.models import Client


def test_demo_is_idempotent_and_keeps_its_secret(runner: CliRunner) -> None:
    first = runner.invoke(args=["demo", "--json"])
    second = runner.invoke(args=["demo", "--json"])

    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert [u.email for u in db.session.scalars(db.select(User))] == [DEMO_EMAIL]
    (client,) = db.session.scalars(db.select(Client)).all()
    assert client.client_id == DEMO_CLIENT_ID
    assert client.check_client_secret(json.loads(second.stdout)["platform"]["client_secret"])


def test_demo_prints_credentials_that_work(runner: CliRunner) -> None:
    result = runner.invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    for value in (DEMO_EMAIL, DEMO_PASSWORD, DEMO_CLIENT_ID, DEMO_REDIRECT_URI):
        assert value in result.stdout
    secret = next(line.split()[-1] for line in result.stdout.splitlines()
                  if "client_secret" in line)
    assert authenticate(DEMO_EMAIL, DEMO_PASSWORD) is not None
    client = db.session.scalar(db.select(Client).where(Client.client_id == DEMO_CLIENT_ID))
    assert client.check_client_secret(secret)
    assert client.require_pkce
    assert "https://idp.test/authorize?" in result.stdout
