"""``idp advisors``: the operator adds, lists and revokes mobility advisors."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from idp.advisors.models import ADVISOR, OPERATOR
from idp.advisors.service import (
    SETUP_LIFETIME,
    AdvisorError,
    add_advisor,
    all_advisors,
    find_advisor,
    record_expired,
    revoke_advisor,
)
from idp.cli import fail


@click.group(help="Manage mobility advisors (assisted access).")
def advisors() -> None:
    pass


@advisors.command("add")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Shown to the travellers they help.")
@click.option("--centre", required=True, help="Their organisation, shown to travellers.")
@click.option("--operator", is_flag=True, help="Also manages advisors (/operator/advisors).")
@with_appcontext
def add(email: str, name: str, centre: str, operator: bool) -> None:
    """Add an advisor; print their one-time set-up link (a password, then an
    authenticator app, which is required)."""
    try:
        with force_locale("en"):
            advisor, link = add_advisor(email, name, centre, OPERATOR if operator else ADVISOR)
    except AdvisorError as error:
        fail(f"{error.field}: {error.message}")
        return
    hours = int(SETUP_LIFETIME.total_seconds() // 3600)
    click.echo(f"added {advisor.email} ({advisor.role}, {advisor.public_id})")
    click.echo(f"set-up link, valid {hours} hours, shown once: {link}")


@advisors.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def list_advisors(as_json: bool) -> None:
    """List the advisors and their state."""
    rows = [{"email": a.email, "name": a.name, "centre": a.centre, "role": a.role,
             "id": a.public_id,
             "state": "revoked" if a.revoked_at else "active" if a.is_ready else "setting up"}
            for a in all_advisors()]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['email']}\t{row['role']}\t{row['state']}\t{row['name']}\t"
                   f"{row['centre']}\t{row['id']}")


@advisors.command("revoke")
@click.argument("email")
@with_appcontext
def revoke(email: str) -> None:
    """Stop an advisor at once: their sessions end and every mandate they hold."""
    advisor = find_advisor(email)
    if advisor is None:
        fail(f"no advisor with email {email}")
        return
    if advisor.revoked_at is not None:
        click.echo(f"{advisor.email} was already revoked")
        return
    count = revoke_advisor(advisor)
    click.echo(f"revoked {advisor.email}; {count} mandate(s) ended")


@advisors.command("expire")
@with_appcontext
def expire() -> None:
    """Record in the audit log the mandates that lapsed since the last run (daily cron)."""
    click.echo(f"{record_expired()} mandate(s) lapsed")
