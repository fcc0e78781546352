"""``idp demo``: a demo traveller and two demo platforms, ready to try, however often it
runs."""

from __future__ import annotations

import json

from click.testing import CliRunner

from clients.demo import (
    DEMO_CLIENT_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_REDIRECT_URI,
    NATIONAL_CLIENT_ID,
    TOKEN_EXCHANGE,
)
from idp.accounts.models import User
from idp.accounts.service import authenticate
from idp.extensions import db
from idp.oauth.models import Client
from idp.oauth.resources import resources_of


def test_demo_is_idempotent_and_keeps_its_secret(runner: CliRunner) -> None:
    first = runner.invoke(args=["demo", "--json"])
    second = runner.invoke(args=["demo", "--json"])

    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert [u.email for u in db.session.scalars(db.select(User))] == [DEMO_EMAIL]
    regional, national = db.session.scalars(db.select(Client).order_by(Client.id)).all()
    assert (regional.client_id, national.client_id) == (DEMO_CLIENT_ID, NATIONAL_CLIENT_ID)
    assert regional.check_client_secret(json.loads(second.stdout)["platform"]["client_secret"])
    secrets = {p["client_id"]: p["client_secret"] for p in json.loads(second.stdout)["platforms"]}
    assert national.check_client_secret(secrets[NATIONAL_CLIENT_ID])
    assert secrets[NATIONAL_CLIENT_ID] != secrets[DEMO_CLIENT_ID]


def test_demo_platforms_each_have_their_policy_and_back_channel(runner: CliRunner) -> None:
    result = runner.invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5001/" in result.stdout
    assert "http://127.0.0.1:5002/" in result.stdout
    clients = {c.client_id: c for c in db.session.scalars(db.select(Client))}
    regional, national = clients[DEMO_CLIENT_ID], clients[NATIONAL_CLIENT_ID]
    assert (regional.client_name, national.client_name) == (
        "Covoiturage régional", "Covoiturage national")
    assert regional.backchannel_logout_uri == "http://127.0.0.1:5001/backchannel-logout"
    assert national.backchannel_logout_uri == "http://127.0.0.1:5002/backchannel-logout"
    assert national.redirect_uris == ["http://127.0.0.1:5002/callback"]
    assert national.scope_policy != regional.scope_policy
    assert national.scope_policy["email"]["required"] is True


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


def test_demo_registers_the_national_api_for_the_regional_platform_to_use(
        runner: CliRunner) -> None:
    """Issue 14, part 5: the national platform's API as a resource, its actions in plain
    French and English words, what it sees (alias and phone); the regional platform may
    exchange tokens for it. Twice gives the same."""
    for _ in range(2):
        result = runner.invoke(args=["demo"])
        assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5002/api" in result.stdout

    [api] = resources_of(NATIONAL_CLIENT_ID)
    assert api.uri == "http://127.0.0.1:5002/api"
    assert set(api.actions) == {"trips:search", "bookings:create"}
    assert api.describe_action("bookings:create", "fr") == "réserver des places"
    assert api.describe_action("trips:search", "en") == "search rides"
    assert api.claims == ["nickname", "phone_number"]
    assert resources_of(DEMO_CLIENT_ID) == []
    clients = {c.client_id: c for c in db.session.scalars(db.select(Client))}
    assert clients[DEMO_CLIENT_ID].check_grant_type(TOKEN_EXCHANGE)
    assert not clients[NATIONAL_CLIENT_ID].check_grant_type(TOKEN_EXCHANGE)


def test_an_earlier_demo_install_gains_the_exchange_on_the_next_run(runner: CliRunner) -> None:
    assert runner.invoke(args=["demo"]).exit_code == 0
    regional = db.session.scalar(db.select(Client).where(Client.client_id == DEMO_CLIENT_ID))
    regional.grant_types = ["authorization_code", "refresh_token"]
    db.session.commit()

    assert runner.invoke(args=["demo"]).exit_code == 0

    db.session.refresh(regional)
    assert regional.check_grant_type(TOKEN_EXCHANGE)


def test_both_demo_platforms_register_where_they_are_told_a_delegation_stopped(
        runner: CliRunner) -> None:
    """Issue 14, part 4: an events URI each (RFC 8935), loopback http as in development.
    An install from before it gains them on the next run."""
    assert runner.invoke(args=["demo"]).exit_code == 0
    db.session.execute(db.update(Client).values(events_uri=None))
    db.session.commit()

    assert runner.invoke(args=["demo"]).exit_code == 0

    clients = {c.client_id: c for c in db.session.scalars(db.select(Client))}
    assert clients[DEMO_CLIENT_ID].events_uri == "http://127.0.0.1:5001/events"
    assert clients[NATIONAL_CLIENT_ID].events_uri == "http://127.0.0.1:5002/events"
