"""Consent: the scope catalogue, the consent screen and what the traveller agreed to."""

from flask import Flask


def init_app(app: Flask) -> None:
    from consent import step, views
    from idp.oauth.decisions import register_consent_step

    register_consent_step(app, step.ConsentScreen())
    app.register_blueprint(views.bp)
