"""A traveller who lost both the authenticator app and the recovery codes: the operator,
having checked who they are, turns two-step verification off; the traveller is told by
mail and the audit log says who did it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from consent.audit import AuditEvent
from idp.accounts import mfa
from idp.extensions import db
from tests.browser import Browser
from tests.factories import Traveller
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401
from tests.totp import enrol, start_login

pytestmark = pytest.mark.usefixtures("frozen", "in_english")


def test_the_operator_turns_two_step_off_and_the_traveller_is_told(
        runner: CliRunner, logged_in: Browser, user: Traveller, mailbox: Mailbox) -> None:
    enrol(logged_in)
    start_login(Browser(logged_in.client.application.test_client()), user.email,
                user.password)  # the code page: the password alone does not sign in

    user.model.locale = "en"  # the mail is in the traveller's language
    db.session.commit()
    result = runner.invoke(args=["users", "two-step-off", user.email.upper(), "--json"])

    assert result.exit_code == 0, result.output
    assert '"two_step": false' in result.output
    db.session.expire_all()
    assert not mfa.check_enabled(user.model)
    assert mailbox.last(user.email)["Subject"] == \
        "Two-step verification is off on your Mobility ID account"
    event = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.event_type == "account:two_step_disabled")).one()
    assert event.data == {"by": "operator"}
    other = Browser(logged_in.client.application.test_client())
    assert other.login(user.email, user.password).location == "/account"


@pytest.mark.parametrize("email", ["nobody@example.org", None])
def test_the_operator_command_refuses_what_it_cannot_do(
        runner: CliRunner, user: Traveller, email: str | None) -> None:
    result = runner.invoke(args=["users", "two-step-off", email or user.email])

    assert result.exit_code == 1
    assert result.output.count("\n") == 1  # one line, saying why
    assert ("no traveller" if email else "is not on") in result.output
