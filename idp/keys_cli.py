"""``idp keys``: list the signing keys and rotate them."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import click
from flask.cli import with_appcontext

from idp.extensions import db
from idp.keys import ACTIVE, NEXT, SUPPORTED_ALGS, key_store
from idp.rotation import RotationError, describe, rotate, sync_states


@click.group(help="Signing keys: list their states, rotate them.")
def keys() -> None:
    pass


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object per line.")
@with_appcontext
def list_keys(as_json: bool) -> None:
    """Every key with its state: next, active, retired or removed."""
    key_store().ensure_keys()
    rows = sync_states()
    db.session.commit()
    for row in rows:
        data = describe(row)
        if as_json:
            click.echo(json.dumps(data))
        else:
            click.echo("\t".join(str(data[name] or "-") for name in (
                "kid", "alg", "state", "created_at", "activates_at", "retired_at")))


@keys.command("rotate")
@click.option("--alg", type=click.Choice(list(SUPPORTED_ALGS)), default="RS256",
              show_default=True)
@click.option("--publish-delay", type=click.IntRange(min=0), default=None, metavar="SECONDS",
              help="How long the new key is published before it signs "
                   "(default: IDP_KEY_PUBLISH_DELAY, one day).")
@click.option("--if-older-than", "days", type=click.IntRange(min=1), default=None,
              metavar="DAYS", help="Rotate only once the active key has signed for DAYS "
                                   "days and no new key is waiting (for a scheduler).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def rotate_key(alg: str, publish_delay: int | None, days: int | None, as_json: bool) -> None:
    """Publish a new signing key now; it replaces the active one after the delay."""
    key_store().ensure_keys()
    if days is not None and not rotation_due(alg, days, as_json):
        return
    try:
        rotation = rotate(alg, publish_delay)
    except RotationError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    data = describe(rotation.key) | {"replaces": rotation.replaces}
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"new {alg} key {data['kid']} published; signs from {data['activates_at']}")
    if rotation.replaces:
        click.echo(f"it replaces {rotation.replaces}, which stays published until its "
                   "tokens have expired")


def rotation_due(alg: str, days: int, as_json: bool) -> bool:
    """True when the active ``alg`` key has signed for ``days`` days and none waits to
    replace it; otherwise say why nothing is done. A scheduler can run this hourly."""
    now = key_store().clock()
    rows = [row for row in sync_states(now) if row.alg == alg]
    db.session.commit()
    waiting = next((row for row in rows if row.state == NEXT), None)
    active = next((row for row in rows if row.state == ACTIVE), None)
    if waiting is None and (active is None or now - active.activates_at >= timedelta(days)):
        return True
    current = waiting or active
    assert current is not None
    if as_json:
        click.echo(json.dumps(describe(current) | {"rotated": False}))
    elif waiting is not None:
        click.echo(f"no rotation: {alg} key {waiting.kid} is waiting to activate")
    else:
        click.echo(f"no rotation: {alg} key {current.kid} has signed since "
                   f"{current.activates_at.isoformat()}, less than {days} days")
    return False
