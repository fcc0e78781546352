"""``idp users``: manage travellers' accounts from the command line."""

from __future__ import annotations

import json
import sys

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import with_appcontext
from flask_babel import force_locale

from idp.accounts.service import AccountError, create_user


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(help="Manage travellers' accounts.")
def users() -> None:
    pass


@users.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
@click.option("--given-name", default=None)
@click.option("--family-name", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def create(email: str, password_stdin: bool, given_name: str | None,
           family_name: str | None, as_json: bool) -> None:
    """Create a traveller's account."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        # The same check as the sign-up form's (WTForms' Email runs email-validator).
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        fail("EMAIL is not an email address.")
    try:
        # No request, hence no browser language: the command line speaks English.
        with force_locale("en"):
            user = create_user(email, password, given_name, family_name)
    except AccountError as error:
        fail(f"{error.field}: {error.message}")
        return
    if as_json:
        click.echo(json.dumps({"email": user.email, "sub": user.subject}))
    else:
        click.echo(f"created {user.email}")
