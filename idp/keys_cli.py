"""``idp keys``: list the signing keys and rotate them."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from idp.extensions import db
from idp.keys import SUPPORTED_ALGS, key_store
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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def rotate_key(alg: str, publish_delay: int | None, as_json: bool) -> None:
    """Publish a new signing key now; it replaces the active one after the delay."""
    key_store().ensure_keys()
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
