"""The ``idp`` command: the Flask command group of the provider."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask.cli import FlaskGroup

from idp import create_app
from idp.settings import ConfigError


def fail(message: str) -> NoReturn:
    """Every command's answer to bad input: one line on stderr, a non-zero exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _create_app():  # type: ignore[no-untyped-def]
    try:
        return create_app()
    except ConfigError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


main = FlaskGroup(create_app=_create_app, help="Mobility ID, the mobility OpenID provider.")


# Registered on the group itself, not on the app: `idp check` must still run (and report
# the setting at fault) when the configuration does not load.
from idp.check import check  # noqa: E402

main.add_command(check)
