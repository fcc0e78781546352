"""Revoking stops the advisor at once on every instance: two live servers on one database,
the traveller stops the help at one, the advisor is refused at the other on their very
next request (nothing is cached in a process)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pyotp
import pytest
import requests

from idp import create_app
from idp.extensions import db
from tests import conftest
from tests.advisors.live import PASSWORD, add_live_advisor, add_live_mandate
from tests.browser import csrf_token
from tests.live import HOST, LiveServer, live_server, serve  # noqa: F401


@pytest.fixture
def second_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """Another instance of the provider on the same database."""
    with socket.create_server((HOST, 0)) as sock:
        url = f"http://{HOST}:{sock.getsockname()[1]}"
        app = create_app(settings=conftest.test_settings(database_url, issuer=url))
        app.instance_path = str(tmp_path / "second")
        server, thread = serve(app, sock)
    try:
        yield LiveServer(app, url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def post(session: requests.Session, base: str, path: str, page: requests.Response,
         data: dict[str, str]) -> requests.Response:
    return session.post(urljoin(base, path), data={"csrf_token": csrf_token(page.text), **data},
                        headers={"Referer": page.url}, allow_redirects=False, timeout=10)


def test_a_revocation_at_one_instance_stops_the_advisor_at_the_other(
        live_server: LiveServer, second_server: LiveServer) -> None:
    traveller = live_server.add_traveller(email="lucie@example.org")
    key = add_live_advisor(live_server, "nadia@centre.example")
    mandate_id = add_live_mandate(live_server, "nadia@centre.example", traveller.subject)
    details = f"{second_server.url}/advisor/travellers/{mandate_id}/details"

    advisor = requests.Session()
    page = advisor.get(f"{second_server.url}/advisor/login", timeout=10)
    step = post(advisor, second_server.url, "/advisor/login", page,
                {"email": "nadia@centre.example", "password": PASSWORD})
    assert step.status_code == 302, step.text
    page = advisor.get(urljoin(second_server.url, step.headers["Location"]), timeout=10)
    signed = post(advisor, second_server.url, step.headers["Location"], page,
                  {"code": pyotp.TOTP(key).now()})
    assert signed.status_code == 302, signed.text
    assert advisor.get(details, timeout=10).status_code == 200

    person = requests.Session()
    page = person.get(f"{live_server.url}/login", timeout=10)
    logged = post(person, live_server.url, "/login", page,
                  {"email": traveller.email, "password": traveller.password})
    assert logged.status_code == 302
    page = person.get(f"{live_server.url}/account/helpers", timeout=10)
    assert "Nadia Benali" in page.text
    stopped = post(person, live_server.url, f"/account/helpers/{mandate_id}/stop", page, {})
    assert stopped.status_code == 302

    refused = advisor.get(details, timeout=10)
    assert refused.status_code == 403
    assert "has not allowed you to do this now" in refused.text
    advisor.close()
    person.close()
