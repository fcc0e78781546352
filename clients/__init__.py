"""Platforms: registration and management of OAuth clients."""

from flask import Flask


def init_app(app: Flask) -> None:
    from clients import cli, demo, endpoints, resource_cli  # noqa: F401 (adds commands)

    app.register_blueprint(endpoints.bp)
    app.cli.add_command(cli.clients)
    app.cli.add_command(demo.demo)
