"""``idp users``: manage travellers' accounts from the command line."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import with_appcontext
from flask_babel import force_locale

from idp.accounts import mfa
from idp.accounts.registration import prune_pending
from idp.accounts.service import AccountError, create_user, find_user
from idp.cli import fail
from idp.extensions import db, utcnow
from idp.i18n import first_supported
from idp.mail import send_mail
from idp.urls import issuer_url


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


@users.command("verify")
@click.argument("email")
@click.argument("what", type=click.Choice(["email", "phone", "identity", "licence"]))
@click.option("--method", default="in_person", show_default=True,
              help="How the identity or the licence was checked.")
@click.option("--source", default="operator", show_default=True,
              help="Who checked it (an organisation, never a document number).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def verify(email: str, what: str, method: str, source: str, as_json: bool) -> None:
    """Record an operator's check: verified claims are never set by the traveller."""
    user = find_user(email)
    if user is None:
        fail(f"no traveller with email {email}")
        return
    now = utcnow().isoformat()
    mob = dict(user.mobility or {})
    if what == "email":
        user.email_verified = True
    elif what == "phone":
        if not user.phone_number:
            fail("this traveller has no phone number")
        user.phone_number_verified = True
    elif what == "identity":
        mob["mob_identity_verified"] = {"verified": True, "method": method, "source": source,
                                        "verified_at": now}
    else:
        licence = mob.get("mob_driving_licence") or {}
        if not licence.get("categories"):
            fail("this traveller has given no licence categories")
        mob["mob_driving_licence"] = {**licence, "verified": True, "verified_at": now}
    user.mobility = mob
    db.session.commit()
    click.echo(json.dumps({"email": user.email, "verified": what}) if as_json
               else f"verified {what} of {user.email}")


@users.command("eligibility")
@click.argument("email")
@click.argument("scheme")
@click.option("--eligible/--not-eligible", required=True)
@click.option("--valid-until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def eligibility(email: str, scheme: str, eligible: bool, valid_until: Any,
                as_json: bool) -> None:
    """Record a traveller's right to a solidarity scheme: yes or no, never the reason."""
    user = find_user(email)
    if user is None:
        fail(f"no traveller with email {email}")
        return
    if not scheme.strip() or len(scheme) > 80:
        fail("SCHEME must be a short name")
    entries = [e for e in (user.mobility or {}).get("mob_eligibility", [])
               if e.get("scheme") != scheme]
    entry = {"scheme": scheme, "eligible": eligible,
             "valid_until": valid_until.date().isoformat() if valid_until else None}
    user.mobility = {**(user.mobility or {}), "mob_eligibility": [*entries, entry]}
    db.session.commit()
    click.echo(json.dumps({"email": user.email, **entry}) if as_json
               else f"{scheme}: {'eligible' if eligible else 'not eligible'} for {user.email}")


@users.command("two-step-off")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def two_step_off(email: str, as_json: bool) -> None:
    """Turn two-step verification off for a traveller who lost both the app and the
    recovery codes, once you have checked who they are. They are told by mail."""
    user = find_user(email)
    if user is None:
        fail(f"no traveller with email {email}")
        return
    if not mfa.check_enabled(user):
        fail(f"two-step verification is not on for {user.email}")
    mfa.delete_totp(user, by="operator")
    send_mail(user.email, "two_step_off", first_supported(user.locale),
              name=user.given_name, two_step=issuer_url("mfa.enrol"))
    click.echo(json.dumps({"email": user.email, "two_step": False}) if as_json
               else f"two-step verification turned off for {user.email}")


@users.command("prune")
@with_appcontext
def prune() -> None:
    """Delete the sign-ups never confirmed whose links have expired (for cron, beside
    ``idp sessions prune``). Nothing enters the audit log: such an account never signed in."""
    click.echo(f"removed {prune_pending()} unconfirmed sign-up(s)")
