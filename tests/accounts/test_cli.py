"""``idp users create``: an operator opens an account, the password read from stdin."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from idp.accounts.models import User
from idp.accounts.service import authenticate, find_user
from idp.extensions import db
from tests import factories

PASSWORD = "gravel otter lantern quietly folds maple"


def create(runner: CliRunner, email: str, password: str = PASSWORD, *options: str) -> Result:
    return runner.invoke(args=["users", "create", email, "--password-stdin", *options],
                         input=password + "\n")


def error_line(result: Result) -> str:
    assert result.exit_code != 0
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def count_users() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(User))


def test_users_create_opens_an_account_with_the_password_from_stdin(runner: CliRunner) -> None:
    result = create(runner, "Jeanne.Durand@Example.org", PASSWORD,
                    "--given-name", "Jeanne", "--family-name", "Durand")

    assert result.exit_code == 0, result.output
    assert result.stdout == "created jeanne.durand@example.org\n"
    user = authenticate("jeanne.durand@example.org", PASSWORD)
    assert user is not None
    assert (user.given_name, user.family_name) == ("Jeanne", "Durand")
    assert PASSWORD not in result.output


def test_users_create_json_gives_the_email_and_subject(runner: CliRunner) -> None:
    result = create(runner, "jeanne@example.org", PASSWORD, "--json")

    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    user = find_user("jeanne@example.org")
    assert created == {"email": "jeanne@example.org", "sub": user.subject}


def test_users_create_refuses_an_email_already_used(runner: CliRunner) -> None:
    existing = factories.make_user()

    result = create(runner, existing.email.upper())

    assert "email" in error_line(result)
    assert count_users() == 1


@pytest.mark.parametrize("password", [
    "short",
    "passwordpassword123",
    "mobilityid2024mobilityid",
    "jeanne durand 1987",
    pytest.param("x" * 129, id="129-characters"),
])
def test_users_create_refuses_a_weak_password(runner: CliRunner, password: str) -> None:
    result = create(runner, "jeanne.durand@example.org", password,
                    "--given-name", "Jeanne", "--family-name", "Durand")

    assert error_line(result).startswith("error: password: ")
    assert count_users() == 0


@pytest.mark.parametrize("email", [
    "jeanne",
    "jeanne.example.org",
    "@example.org",
    "jeanne@",
    "jeanne@@example.org",
    "jeanne durand@example.org",
    "jeanne@example",
    "jeanne@-example.org",
    pytest.param("a" * 250 + "@example.org", id="262-characters"),
])
def test_users_create_refuses_what_is_not_an_email_address(runner: CliRunner,
                                                           email: str) -> None:
    result = create(runner, email)

    assert error_line(result) == "error: EMAIL is not an email address."
    assert count_users() == 0
