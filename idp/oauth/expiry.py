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

from flask import render_template
from flask.typing import ResponseReturnValue

from idp.accounts.forms import ConfirmForm
from idp.accounts.login import current_login
from idp.oauth.interactions import Interaction
from idp.oauth.models import Client
from idp.oauth.server import query_client
from idp.settings import Settings


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
