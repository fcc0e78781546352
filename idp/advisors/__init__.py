"""Assisted access (issue 12, after the Aidants Connect model): mobility advisors, who
act for a traveller only under a mandate the traveller confirmed. ``access`` says what
the current advisor may do; ``consent`` records what they did (idp.signals.assisted)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from idp.advisors import cli, helpers, models, operator, sessions, signin, work  # noqa: F401
    from idp.advisors.access import current_advisor

    for module in (signin, work, operator, helpers):
        app.register_blueprint(module.bp)
    app.cli.add_command(cli.advisors)
    sessions.init_app(app)
    # Called by the advisors' page layout only: other pages never look for an advisor.
    app.jinja_env.globals["signed_in_advisor"] = current_advisor
