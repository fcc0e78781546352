"""Consent: the scope catalogue, the consent screen and what the traveller agreed to."""

from flask import Flask


def init_app(app: Flask) -> None:
    from consent import (
        api,
        assisted_views,
        audit_cli,
        helped,
        listeners,
        metrics,
        platforms,
        proof,
        rights,
        step,
        views,
    )
    from idp.oauth.decisions import register_consent_step

    register_consent_step(app, step.ConsentScreen())
    for blueprint in (views.bp, platforms.bp, proof.bp, rights.bp, api.bp, assisted_views.bp):
        app.register_blueprint(blueprint)
    from consent import advisor_history  # an advisor reads a traveller's history

    app.register_blueprint(advisor_history.bp)
    app.cli.add_command(audit_cli.audit)
    listeners.init_app(app)
    helped.init_app(app)
    metrics.init_app(app)
