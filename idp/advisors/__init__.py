"""Assisted access (issue 12): mobility advisors, who act for a traveller only under a
mandate the traveller confirmed. ``access`` says what the current advisor may do."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from idp.advisors import models, sessions  # noqa: F401  (the tables)

    sessions.init_app(app)
