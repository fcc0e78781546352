"""Where you are signed in: a traveller sees each browser session by device and network
(never the full address), and ends the ones they do not want, which tells the platforms
used there by back-channel logout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from idp import create_app
from idp.accounts.devices import device_name
from idp.accounts.networks import GEOIP, describe_place, ip_prefix
from idp.extensions import utcnow
from idp.settings import ConfigError
from tests import conftest
from tests.accounts.devices import (
    BACKCHANNEL,
    CHROME_ANDROID,
    FIREFOX_WINDOWS,
    SAFARI_IPHONE,
    is_logged_in,
    logout_claims,
    messages,
    open_browser,
    session_of,
    sessions,
)
from tests.browser import Browser
from tests.factories import Traveller, make_platform, make_user
from tests.tokens import issue_tokens


@pytest.fixture
def laptop(app: Flask, client: FlaskClient, user: Traveller) -> Browser:
    browser = open_browser(app, "203.0.113.45", FIREFOX_WINDOWS)
    browser.login(user.email, user.password)
    return browser


@pytest.fixture
def phone(app: Flask, client: FlaskClient, user: Traveller) -> Browser:
    browser = open_browser(app, "2001:db8:1234:5678::9", CHROME_ANDROID)
    browser.login(user.email, user.password)
    return browser


def end_button(html: str, session_id: int) -> bool:
    return f'action="/account/sessions/{session_id}/end"' in html


def test_the_page_lists_each_device_and_its_network_never_the_full_address(
        laptop: Browser, phone: Browser) -> None:
    page = laptop.get("/account/sessions", headers={"Accept-Language": "en"})

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Firefox on Windows" in html and "Chrome on Android" in html
    assert "Network 203.0.113.x" in html and "Network 2001:db8:1234::/48" in html
    assert "203.0.113.45" not in html and "5678" not in html
    assert html.count("This device") == 1
    assert html.index("Firefox on Windows") < html.index("This device") < html.index("Chrome")
    # The phone's session can be ended from the laptop; the laptop's own is not offered.
    assert end_button(html, session_of(CHROME_ANDROID).id)
    assert not end_button(html, session_of(FIREFOX_WINDOWS).id)


def test_only_the_network_prefix_is_stored(laptop: Browser, phone: Browser) -> None:
    stored = {s.user_agent: s.ip_prefix for s in sessions()}
    assert stored == {FIREFOX_WINDOWS: "203.0.113.0/24", CHROME_ANDROID: "2001:db8:1234::/48"}


def test_the_prefix_follows_the_traveller_to_a_new_network(laptop: Browser) -> None:
    laptop.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    # The row is refreshed at most once a minute (LAST_SEEN_GRANULARITY).
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        assert is_logged_in(laptop)
    assert session_of(FIREFOX_WINDOWS).ip_prefix == "198.51.100.0/24"


def test_ending_another_session_logs_that_device_out_and_tells_its_platforms(
        laptop: Browser, phone: Browser) -> None:
    platform = make_platform(backchannel_logout_uri=BACKCHANNEL)
    issue_tokens(phone, platform)
    target = session_of(CHROME_ANDROID)
    target_id, target_sid = target.id, target.sid

    laptop.get("/account/sessions")
    response = laptop.submit(f"/account/sessions/{target_id}/end", {})

    assert response.status_code == 302 and response.location == "/account/sessions"
    assert not is_logged_in(phone)
    assert is_logged_in(laptop)
    (message,) = messages()
    assert (message.client_id, message.reason) == (platform.client_id, "session_ended")
    assert logout_claims(message)["sid"] == target_sid


def test_ending_all_other_sessions_keeps_this_one(
        app: Flask, laptop: Browser, phone: Browser, user: Traveller) -> None:
    tablet = open_browser(app, "192.168.1.20", SAFARI_IPHONE)
    tablet.login(user.email, user.password)

    laptop.get("/account/sessions")
    response = laptop.submit("/account/sessions/end-others", {})

    assert response.status_code == 302
    assert is_logged_in(laptop)
    assert not is_logged_in(phone) and not is_logged_in(tablet)
    assert [s.user_agent for s in sessions()] == [FIREFOX_WINDOWS]
    html = laptop.get("/account/sessions").get_data(as_text=True)
    assert "End all other sessions" not in html


@pytest.mark.parametrize("whose", ["another traveller's", "unknown", "too large", "negative"])
def test_a_forged_session_id_ends_nothing(app: Flask, laptop: Browser, whose: str) -> None:
    stranger = make_user()
    theirs = open_browser(app, "198.51.100.9", SAFARI_IPHONE)
    theirs.login(stranger.email, stranger.password)
    forged = {"another traveller's": session_of(SAFARI_IPHONE).id, "unknown": 10**9,
              "too large": 10**30, "negative": -1}[whose]

    laptop.get("/account")  # a page with a form, for its CSRF token
    response = laptop.submit(f"/account/sessions/{forged}/end", {})

    assert response.status_code == 404
    assert "<h1>" in response.get_data(as_text=True)
    assert is_logged_in(theirs) and is_logged_in(laptop)


def test_ending_without_the_form_token_is_refused(laptop: Browser, phone: Browser) -> None:
    target = session_of(CHROME_ANDROID)
    response = laptop.client.post(f"/account/sessions/{target.id}/end")
    assert response.status_code == 400
    assert laptop.client.post("/account/sessions/end-others").status_code == 400
    assert is_logged_in(phone)


def test_ending_this_session_logs_out(laptop: Browser) -> None:
    laptop.get("/account")  # a page with a form, for its CSRF token
    response = laptop.submit(f"/account/sessions/{session_of(FIREFOX_WINDOWS).id}/end", {})
    assert response.status_code == 302 and response.location == "/login"
    assert not is_logged_in(laptop) and sessions() == []


def test_an_anonymous_visitor_is_sent_to_login(browser: Browser) -> None:
    response = browser.get("/account/sessions")
    assert response.status_code == 302
    assert response.location == "/login?next=/account/sessions"


def test_the_profile_links_to_the_page_and_it_speaks_french(logged_in: Browser) -> None:
    profile = logged_in.get("/account").get_data(as_text=True)
    assert 'href="/account/sessions"' in profile
    page = logged_in.get("/account/sessions", headers={"Accept-Language": "fr"})
    assert page.status_code == 200
    assert re.search(r'<html lang="fr"', page.get_data(as_text=True))


@pytest.mark.parametrize(("address", "prefix"), [
    ("203.0.113.45", "203.0.113.0/24"),
    ("::ffff:203.0.113.45", "203.0.113.0/24"),
    ("2001:db8:1234:5678::9", "2001:db8:1234::/48"),
    ("fe80::1%eth0", "fe80::/48"),
    ("", None),
    ("not an address", None),
    (None, None),
])
def test_the_prefix_of_an_address(address: str | None, prefix: str | None) -> None:
    assert ip_prefix(address) == prefix


@pytest.mark.parametrize(("prefix", "place"), [
    ("203.0.113.0/24", "Network 203.0.113.x"),
    ("10.1.2.0/24", "Local network"),
    ("127.0.0.0/24", "Local network"),
    ("fd00:1:2::/48", "Local network"),
    (None, "Unknown network"),
    ("garbage", "Unknown network"),
])
def test_the_place_of_a_prefix_without_geoip(app: Flask, prefix: str | None, place: str) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert describe_place(prefix) == place


@pytest.mark.parametrize(("user_agent", "name"), [
    (FIREFOX_WINDOWS, "Firefox on Windows"),
    (CHROME_ANDROID, "Chrome on Android"),
    (SAFARI_IPHONE, "Safari on iOS"),
    ("curl/8.5.0", "curl"),
    ("", "Unknown device"),
    (None, "Unknown device"),
    ("\x00" * 2000, "Unknown device"),
])
def test_the_device_name(app: Flask, user_agent: str | None, name: str) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert device_name(user_agent) == name


def write_geoip(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", languages=["en", "fr"],
                        ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/24"]), {
        "city": {"names": {"en": "Lyon", "fr": "Lyon"}},
        "country": {"iso_code": "FR", "names": {"en": "France", "fr": "France"}}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {
        "country": {"iso_code": "DE", "names": {"en": "Germany", "fr": "Allemagne"}}})
    writer.to_db_file(str(path))
    return path


def test_a_geoip_database_names_the_approximate_place(
        database_url: str, app: Flask, tmp_path: Path) -> None:
    database = write_geoip(tmp_path / "city.mmdb")
    settings = conftest.test_settings(database_url, geoip_database=str(database))
    geo_app = create_app(settings=settings, config=conftest.TEST_CONFIG)
    try:
        with geo_app.test_request_context(headers={"Accept-Language": "fr"}):
            assert describe_place("203.0.113.0/24") == "Lyon, France"
            assert describe_place("2001:db8:1234::/48") == "Allemagne"
            # Not in the database: the network, as without one.
            assert describe_place("198.51.100.0/24").endswith(" 198.51.100.x")
    finally:
        geo_app.extensions[GEOIP].close()


@pytest.mark.parametrize("content", [None, b"not a maxmind database"])
def test_an_unreadable_geoip_database_stops_the_start(
        database_url: str, tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "broken.mmdb"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="IDP_GEOIP_DATABASE"):
        create_app(settings=conftest.test_settings(database_url, geoip_database=str(path)),
                   config=conftest.TEST_CONFIG)


def test_times_are_shown_in_the_deployments_time_zone(
        app: Flask, client: FlaskClient, user: Traveller, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(datetime(2030, 1, 15, 8, 30, tzinfo=UTC), tick=False)
    phone = open_browser(app, "198.51.100.7", CHROME_ANDROID)
    phone.login(user.email, user.password)
    laptop = open_browser(app, "203.0.113.45", FIREFOX_WINDOWS)
    laptop.login(user.email, user.password)

    html = laptop.get("/account/sessions", headers={"Accept-Language": "en"}).get_data(
        as_text=True)

    assert "09:30, Paris time" in html  # 08:30 UTC is 09:30 in Paris in January
    assert 'datetime="2030-01-15T08:30:00+00:00"' in html  # machines read UTC
