"""What a traveller sees when a platform's request waited too long for them.

The pending interaction expires (settings.interaction_lifetime); the platform's request
(its state, nonce and PKCE challenge) is kept a while longer with it
(``interactions.KEPT_EXPIRED``). A login or a consent finished after the expiry never
lands on "My details" without a word: this page names the platform and offers one
button back to it (WCAG 2.2.1 Timing Adjustable: nothing the traveller did is lost).

"Go back" either restarts the platform's same request in a new interaction (the
``oauth.restart`` view; the traveller signed in meanwhile need not log in again), or,
for someone not signed in, opens the platform's registered ``client_uri`` so that the
platform starts afresh with its own new state (RFC 6749 10.12: only the platform can make
a state). Every address comes from the platform's registration, never from the request."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import current_app, g, render_template
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from idp.accounts.forms import ConfirmForm
from idp.accounts.login import current_login
from idp.errors import error_page
from idp.oauth import interactions
from idp.oauth.interactions import Interaction
from idp.oauth.models import Client
from idp.oauth.server import query_client
from idp.settings import Settings


def expired_error() -> InvalidRequestError:
    return InvalidRequestError("This sign-in request has expired or was already used.")


def interaction_minutes() -> dict[str, int]:
    """How long a platform's request waits, for the pages that tell the traveller (a
    template context processor)."""
    return {"interaction_minutes": settings().interaction_lifetime // 60}


def expired_answer(interaction_id: str) -> ResponseReturnValue:
    """An answer (consent, refusal, code) that came after its interaction expired: the
    expired page for the traveller it was asked of, else the error page."""
    login = current_login()
    stale = interactions.get_expired(interaction_id)
    if login is None or stale is None or stale.user_id != login.user_id:
        return error_page(expired_error())
    return expired(interaction_id)


def expired(interaction_id: str) -> ResponseReturnValue:
    """The expired page when this browser still holds the platform's request; else the
    error page (used, unknown, or kept too long)."""
    stale = interactions.get_expired(interaction_id)
    if stale is None:
        return error_page(expired_error())
    g.ui_locales = MultiDict(stale.params).get("ui_locales")
    return expired_page(stale, settings())


def expired_page(interaction: Interaction, settings: Settings) -> ResponseReturnValue:
    """The page for an expired interaction of this browser. A platform removed meanwhile
    leaves only the home page to go to."""
    client = query_client(interaction.client_id)
    signed_in = current_login() is not None
    start = platform_start(client)
    return render_template(
        "oauth/expired.html",
        client=client,
        interaction=interaction.id,
        minutes=settings.interaction_lifetime // 60,
        restart=signed_in or start is None,
        start=start,
        signed_in=signed_in,
        form=ConfirmForm(),
    )


def platform_start(client: Client | None) -> str | None:
    """The platform's own home page as it registered it (client_uri, checked to be an
    https web address at registration), or None."""
    return client.client_uri if client is not None and client.client_uri else None


def settings() -> Settings:
    settings: Settings = current_app.extensions["idp.settings"]
    return settings
