"""``idp audit``: check, export and prune the audit log from the command line."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, date, datetime
from typing import Any

import click
from flask.cli import with_appcontext

from consent import audit as audit_log
from idp.accounts.service import find_user
from idp.cli import fail

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")



@click.group(help="Check, export and prune the audit log.")
def audit() -> None:
    pass


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def verify(as_json: bool) -> None:
    """Check the whole hash chain; exit 1 naming the first broken link."""
    report = audit_log.verify()
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "events": report.events, "head": report.head,
                               "broken_id": report.broken_id, "reason": report.reason}))
    elif report.ok:
        click.echo(f"ok: {report.events} events")
    else:
        click.echo(f"broken: event {report.broken_id}: {report.reason} "
                   f"(the {report.events} events before it chain correctly)")
    if not report.ok:
        sys.exit(1)


@audit.command("export")
@click.option("--subject", "email", required=True, metavar="EMAIL",
              help="The traveller's email address.")
@with_appcontext
def export(email: str) -> None:
    """Print a traveller's events as JSON lines, oldest first."""
    user = find_user(email)
    if user is None:
        fail("no traveller has this email address")
    for event in audit_log.export(user):
        click.echo(json.dumps(event, sort_keys=True))


@audit.command("prune")
@click.option("--before", "day", required=True, metavar="YYYY-MM-DD",
              help="Remove the events older than this day (00:00 UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def prune(day: str, as_json: bool) -> None:
    """Remove old events; a checkpoint keeps the rest of the chain verifiable."""
    try:
        report = audit_log.prune(parse_day(day))
    except audit_log.AuditError as error:
        fail(str(error))
    if as_json:
        click.echo(json.dumps(describe(report)))
    elif report.removed:
        click.echo(f"pruned {report.removed} events before {day} "
                   f"(checkpoint: event {report.checkpoint_id})")
    else:
        click.echo(f"nothing to prune before {day}")


def parse_day(value: str) -> datetime:
    if not DAY.fullmatch(value):
        fail("--before must be a date written YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        fail(f"--before: {value} is not a date")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def describe(report: audit_log.PruneReport) -> dict[str, Any]:
    return {"removed": report.removed, "before": report.before.isoformat(),
            "checkpoint_id": report.checkpoint_id,
            "last_removed_hash": report.last_removed_hash}
