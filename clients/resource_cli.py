"""``idp clients resource``: the APIs a platform serves (issue 14), from the command
line. The same checks as the ``mob_resources`` registration member (clients.resources)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from clients import resources
from clients.cli import clients
from clients.errors import ClientMetadataError
from clients.registration import find
from idp.cli import fail
from idp.extensions import db
from idp.oauth.resources import resources_of


def parse_action(value: str) -> tuple[str, dict[str, str]]:
    """``trips:search=search rides|chercher des trajets``: English, then French."""
    name, _, words = value.partition("=")
    english, _, french = words.partition("|")
    return name.strip(), {"en": english.strip(), "fr": french.strip()}


@clients.command("resource")
@click.argument("client_id")
@click.argument("uri")
@click.option("--name", required=True, help="The API's name.")
@click.option("--action", "actions", multiple=True, required=True,
              metavar="ACTION=ENGLISH|FRENCH",
              help="An action and its words, completing 'may ... on <platform> for you', "
                   "e.g. 'trips:search=search rides|chercher des trajets'. Repeatable.")
@click.option("--claim", "claims", multiple=True, metavar="CLAIM",
              help="A claim the API needs (the traveller ticks it or not). Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def add_resource(client_id: str, uri: str, name: str, actions: tuple[str, ...],
                 claims: tuple[str, ...], as_json: bool) -> None:
    """Register (or replace) an API the platform serves, by its identifier URI."""
    client = find(client_id)
    if client is None:
        fail(f"no client with client_id {client_id}")
    specs = [resources.ResourceSpec(r.uri, r.name, r.actions, r.claims)
             for r in resources_of(client_id) if r.uri != uri]
    spec = resources.ResourceSpec(uri, name, dict(map(parse_action, actions)), list(claims))
    try:
        resources.save(client, resources.validate([*specs, spec], client_id))
    except ClientMetadataError as error:
        fail(str(error.description))
    db.session.commit()
    current_app.logger.info("client %s: resource %s registered", client_id, uri)
    shown = resources.as_json(client)
    if as_json:
        click.echo(json.dumps({"client_id": client_id, resources.FIELD: shown}))
    else:
        click.echo(f"{client_id} serves {uri} with: {' '.join(spec.actions)}")


@clients.command("resource-remove")
@click.argument("client_id")
@click.argument("uri")
@with_appcontext
def remove_resource(client_id: str, uri: str) -> None:
    """Remove an API the platform registered."""
    client = find(client_id)
    if client is None:
        fail(f"no client with client_id {client_id}")
    rows = resources_of(client_id)
    if uri not in {r.uri for r in rows}:
        fail(f"{client_id} has no resource {uri}")
    resources.save(client, [resources.ResourceSpec(r.uri, r.name, r.actions, r.claims)
                            for r in rows if r.uri != uri])
    db.session.commit()
    click.echo(f"removed {uri}")
