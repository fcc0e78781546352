"""A browser session ends by itself (ASVS 3.3): after ``session_idle_timeout`` without a
request, and ``session_lifetime`` after login however active it is. A lapsed session is
ended when next presented, or by ``idp sessions prune``; either way its platforms are
told. The clock is moved with time_machine, never slept through."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import time_machine
from click.testing import CliRunner
from flask import Flask

from idp.extensions import utcnow
from idp.settings import Settings
from tests.accounts.devices import (
    BACKCHANNEL,
    CHROME_ANDROID,
    FIREFOX_WINDOWS,
    is_logged_in,
    logout_claims,
    messages,
    open_browser,
    session_of,
    sessions,
)
from tests.browser import Browser
from tests.factories import Traveller, make_platform
from tests.tokens import issue_tokens

IDLE = timedelta(seconds=Settings.session_idle_timeout)
LIFETIME = timedelta(seconds=Settings.session_lifetime)
SECOND = timedelta(seconds=1)


def last_seen() -> datetime:
    (login,) = sessions()
    return login.last_seen_at


@pytest.mark.parametrize(("after", "still_in"), [(IDLE - SECOND, True), (IDLE + SECOND, False)])
def test_an_idle_session_ends_at_the_idle_timeout(
        logged_in: Browser, after: timedelta, still_in: bool) -> None:
    with time_machine.travel(last_seen() + after, tick=False):
        assert is_logged_in(logged_in) is still_in


def test_the_server_checks_the_idle_timeout_even_while_the_cookie_is_valid(
        logged_in: Browser) -> None:
    # The cookie is signed again at each response, the row's last_seen_at only once a
    # minute: 30 seconds after login the cookie is younger than the row says.
    seen = last_seen()
    with time_machine.travel(seen + timedelta(seconds=30), tick=False):
        assert is_logged_in(logged_in)
    with time_machine.travel(seen + IDLE + SECOND, tick=False):
        assert not is_logged_in(logged_in)
    assert sessions() == []  # ended when presented, not left for prune


def test_activity_keeps_a_session_alive_past_the_idle_timeout(logged_in: Browser) -> None:
    start = utcnow()
    for step in range(1, 4):
        with time_machine.travel(start + step * (IDLE - timedelta(minutes=2)), tick=False):
            assert is_logged_in(logged_in)
    assert last_seen() - start > 2 * IDLE


def test_the_absolute_lifetime_ends_even_an_active_session_and_its_platforms_are_told(
        logged_in: Browser) -> None:
    platform = make_platform(backchannel_logout_uri=BACKCHANNEL)
    issue_tokens(logged_in, platform)
    (login,) = sessions()
    start, sid = login.created_at, login.sid
    moment = start
    while moment + IDLE / 2 < start + LIFETIME:
        moment += IDLE / 2
        with time_machine.travel(moment, tick=False):
            assert is_logged_in(logged_in)
    assert messages() == []

    with time_machine.travel(start + LIFETIME + SECOND, tick=False):
        assert not is_logged_in(logged_in)
    assert sessions() == []
    (message,) = messages()
    assert (message.client_id, message.reason) == (platform.client_id, "session_expired")
    assert logout_claims(message)["sid"] == sid


def test_the_cookie_lapses_with_the_idle_timeout(browser: Browser, user: Traveller) -> None:
    with time_machine.travel(utcnow(), tick=False):
        response = browser.login(user.email, user.password)
        cookie = response.headers["Set-Cookie"]
        expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
        assert abs(expires - (utcnow() + IDLE)) < timedelta(seconds=2)


def test_prune_ends_the_lapsed_sessions_only(
        app: Flask, client: object, user: Traveller, runner: CliRunner) -> None:
    platform = make_platform(backchannel_logout_uri=BACKCHANNEL)
    start = utcnow()
    with time_machine.travel(start, tick=False):
        old = open_browser(app, "203.0.113.1", FIREFOX_WINDOWS)
        old.login(user.email, user.password)
        issue_tokens(old, platform)
        sid = session_of(FIREFOX_WINDOWS).sid
    with time_machine.travel(start + IDLE / 2, tick=False):
        recent = open_browser(app, "203.0.113.2", CHROME_ANDROID)
        recent.login(user.email, user.password)

    with time_machine.travel(start + IDLE + SECOND, tick=False):
        result = runner.invoke(args=["sessions", "prune"])
        assert result.exit_code == 0, result.output
        assert result.output == "ended 1 expired session(s)\n"
        assert [s.user_agent for s in sessions()] == [CHROME_ANDROID]
        assert is_logged_in(recent)
        assert runner.invoke(args=["sessions", "prune"]).output == "ended 0 expired session(s)\n"

    (message,) = messages()
    assert message.reason == "session_expired" and logout_claims(message)["sid"] == sid
