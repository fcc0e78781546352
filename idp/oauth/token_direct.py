"""The token endpoint's common requests answered under Flask (issue 13, part 2a): a form
POST with HTTP Basic credentials, read once here and handed, by its ``grant_type``, to
the client credentials grant's answer (``client_credentials_direct``) or the refresh
grant's (``refresh_direct``). Any other request, and any they leave, Flask answers with
the body unread."""

from __future__ import annotations

from typing import Any

from flask import Flask

from idp import prepared
from idp.oauth.client_credentials_direct import FIELDS as CLIENT_CREDENTIALS_FIELDS
from idp.oauth.client_credentials_direct import DirectClientCredentials
from idp.oauth.direct import basic_credentials, basic_form_post, form_of
from idp.oauth.platform_tokens import GRANT_TYPE as CLIENT_CREDENTIALS
from idp.oauth.refresh_direct import FIELDS as REFRESH_FIELDS
from idp.oauth.refresh_direct import GRANT_TYPE as REFRESH
from idp.oauth.refresh_direct import DirectRefresh


class DirectToken:
    """``compute`` for ``idp.prepared``: the JSON body, or None to let Flask answer."""

    def __init__(self, app: Flask) -> None:
        self.grants: dict[str, DirectClientCredentials | DirectRefresh] = {
            CLIENT_CREDENTIALS: DirectClientCredentials(app), REFRESH: DirectRefresh(app)}

    def __call__(self, environ: dict[str, Any]) -> bytes | None:
        form = form_of(environ, CLIENT_CREDENTIALS_FIELDS | REFRESH_FIELDS)
        if form is None:
            return None
        grant = self.grants.get(form.get("grant_type", ""))
        credentials = basic_credentials(environ)
        if grant is None or credentials is None:
            return None
        return grant.answer(environ, form, *credentials)


def init_app(app: Flask) -> None:
    prepared.serve_computed(app, "endpoints.token", basic_form_post, DirectToken(app))
