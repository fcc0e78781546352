"""``idp advisors add|list|revoke``: the operator's commands. ``add`` prints the one-time
set-up link; ``revoke`` stops the advisor at once: sessions and mandates."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from time_machine import TimeMachineFixture

from consent import audit
from idp.advisors.models import Advisor, AdvisorSession, Mandate
from idp.advisors.service import find_advisor
from idp.digests import digest
from idp.extensions import db, utcnow
from tests import factories
from tests.advisors.factories import make_advisor, make_mandate
from tests.advisors.pages import make_ready, new_browser, sign_in

LINK = re.compile(r"set-up link, valid 24 hours, shown once: (https://idp\.test/advisor/setup/\S+)")


def add(runner: CliRunner, *options: str):  # type: ignore[no-untyped-def]
    return runner.invoke(args=["advisors", "add", "--email", "Nadia@Centre.example",
                               "--name", "Nadia Benali", "--centre", "Mobilité Lyon", *options])


def test_add_prints_a_set_up_link_kept_only_as_a_digest(runner: CliRunner) -> None:
    result = add(runner)

    assert result.exit_code == 0, result.output
    match = LINK.search(result.stdout)
    assert match, result.stdout
    advisor = find_advisor("nadia@centre.example")
    assert advisor is not None and advisor.role == "advisor"
    assert advisor.public_id.startswith("adv_") and advisor.public_id in result.stdout
    token = match.group(1).rsplit("/", 1)[1]
    assert advisor.setup_token_hash == digest(token) and token not in str(advisor.__dict__)
    assert advisor.password_hash is None and not advisor.is_ready


def test_add_an_operator(runner: CliRunner) -> None:
    assert add(runner, "--operator").exit_code == 0
    advisor = find_advisor("nadia@centre.example")
    assert advisor is not None and advisor.is_operator


@pytest.mark.parametrize("email", ["not-an-address", "nadia@centre.example"])
def test_add_refuses_a_bad_or_taken_address(runner: CliRunner, email: str) -> None:
    assert add(runner).exit_code == 0

    result = runner.invoke(args=["advisors", "add", "--email", email, "--name", "Paul",
                                 "--centre", "Centre"])

    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: email: ")
    assert db.session.scalar(db.select(db.func.count(Advisor.id))) == 1


def test_list_shows_each_advisor_and_state(app: Flask, runner: CliRunner,
                                           frozen: TimeMachineFixture) -> None:
    add(runner)
    make_ready(app, frozen, email="paul@centre.example", name="Paul Martin")

    result = runner.invoke(args=["advisors", "list", "--json"])

    rows = {r["email"]: r for r in json.loads(result.stdout)}
    assert rows["nadia@centre.example"]["state"] == "setting up"
    assert rows["paul@centre.example"]["state"] == "active"
    plain = runner.invoke(args=["advisors", "list"]).stdout
    assert "paul@centre.example\tadvisor\tactive\tPaul Martin" in plain


def test_revoke_ends_sessions_and_mandates_at_once(
        app: Flask, runner: CliRunner, frozen: TimeMachineFixture) -> None:
    account = make_ready(app, frozen)
    browser = new_browser(app)
    sign_in(browser, account)
    assert browser.get("/advisor").status_code == 200
    advisor = find_advisor(account.email)
    assert advisor is not None
    traveller = factories.make_user()
    mandate = make_mandate(advisor, traveller.model.id)

    result = runner.invoke(args=["advisors", "revoke", account.email])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"revoked {account.email}; 1 mandate(s) ended\n"
    assert browser.get("/advisor").location.startswith("/advisor/login")
    assert db.session.scalar(db.select(db.func.count(AdvisorSession.id))) == 0
    db.session.refresh(mandate)
    assert mandate.revoked_by == "operator" and mandate.revoked_at is not None
    (event,) = audit.export(traveller.model)
    assert event["event_type"] == audit.MANDATE_REVOKED and event["data"]["by"] == "operator"
    again = runner.invoke(args=["advisors", "revoke", account.email])
    assert again.stdout == f"{account.email} was already revoked\n"
    assert db.session.scalar(db.select(db.func.count(Mandate.id))) == 1


def test_revoke_an_unknown_advisor(runner: CliRunner) -> None:
    result = runner.invoke(args=["advisors", "revoke", "nobody@centre.example"])

    assert result.exit_code == 1
    assert result.stderr == "error: no advisor with email nobody@centre.example\n"


def test_expire_records_each_lapsed_mandate_once(app: Flask, runner: CliRunner) -> None:
    advisor = make_advisor()
    traveller, other = factories.make_user(), factories.make_user()
    make_mandate(advisor, traveller.model.id, confirmed=utcnow() - timedelta(days=40), months=1)
    make_mandate(advisor, other.model.id)  # in force: nothing to record

    assert runner.invoke(args=["advisors", "expire"]).stdout == "1 mandate(s) lapsed\n"
    assert runner.invoke(args=["advisors", "expire"]).stdout == "0 mandate(s) lapsed\n"

    (event,) = audit.export(traveller.model)
    assert event["event_type"] == audit.MANDATE_EXPIRED
    assert event["data"]["advisor_id"] == advisor.public_id
    assert list(audit.export(other.model)) == []
