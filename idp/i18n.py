"""Which language a page speaks: the platform's ui_locales first, then the traveller's
own choice, then the browser's Accept-Language (OIDC Core 3.1.2.1)."""

from __future__ import annotations

from flask import Flask, current_app, g, redirect, request, session
from flask.typing import ResponseReturnValue
from flask_babel import get_locale


def supported() -> tuple[str, ...]:
    languages: tuple[str, ...] = current_app.extensions["idp.settings"].languages
    return languages


def first_supported(tags: str | None) -> str | None:
    for tag in (tags or "").split():
        base = tag.split("-")[0].lower()
        if base in supported():
            return base
    return None


def select_locale() -> str:
    chosen = session.get("lang")
    return (
        first_supported(g.get("ui_locales"))
        or first_supported(request.args.get("ui_locales"))
        or (chosen if chosen in supported() else None)
        or request.accept_languages.best_match(supported())
        or supported()[0]
    )


def choose_language(code: str) -> ResponseReturnValue:
    """Remember the traveller's choice of language, then go back to the page."""
    if code in supported():
        session["lang"] = code
    target = request.args.get("next") or "/"
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = "/"
    return redirect(target)


def init_app(app: Flask) -> None:
    app.add_url_rule("/language/<code>", "language", choose_language)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
