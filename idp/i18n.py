"""Which language a page speaks: the traveller's own choice, then the platform's
ui_locales (OIDC Core 3.1.2.1), then the browser's Accept-Language."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, redirect, request, session
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from idp import times
from idp.accounts.redirects import safe_next


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
    """The traveller's own choice on our pages wins; then the platform's hint; then
    the browser, by weight and base language (en-GB counts as en). Outside a request
    (the command line) the default language."""
    if not has_request_context():
        return supported()[0]
    chosen = session.get("lang")
    return (
        (chosen if chosen in supported() else None)
        or first_supported(g.get("ui_locales"))
        or first_supported(request.args.get("ui_locales"))
        or first_supported(" ".join(tag for tag, _ in request.accept_languages))
        or supported()[0]
    )


def choose_language(code: str) -> ResponseReturnValue:
    """Remember the traveller's choice of language, then go back to the page."""
    if code in supported():
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or "/")


def init_app(app: Flask) -> None:
    times.init_app(app)  # issue 12 item 9: one time zone on every page
    app.add_url_rule("/language/<code>", "language", choose_language)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
