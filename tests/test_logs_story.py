"""A traveller's whole story through the production command (gunicorn, idp.gunicorn_conf,
IDP_ENV=production, JSON logs), then every line it wrote read back: each is a JSON object,
each written during a request carries that request's id, and none holds a value that must
never be logged (issue 11, "Structured logs")."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import redis
import requests
from aiosmtpd.controller import Controller
from flask import Flask

from tests import factories
from tests.live import HttpBrowser
from tests.mail import Mailbox, smtp_server  # noqa: F401  (a fixture)
from tests.servers import REDIS_URL, Server, free_port, launch, production_environ, start
from tests.totp import RECOVERY_CODE, code_at, read_key

# Redis database 4, fixed here: under pytest-xdist every test that uses it runs in
# one worker, one after the other (both backends' included).
pytestmark = pytest.mark.xdist_group("redis-4")

MAIL_DEADLINE = 15.0
PROXY_ID = "proxy-7f3a9c1e-2b4d"
SCOPE = "openid email offline_access"


class Story:
    """What the traveller and the platform did, and every value the logs must not hold."""

    def __init__(self, server: Server, mailbox: Mailbox, platform: factories.Platform) -> None:
        self.url, self.mailbox, self.platform = server.url, mailbox, platform
        self.email = f"story.{secrets.token_hex(4)}@example.org"
        self.password = "a long ride along the Rhône valley"
        self.secrets: dict[str, str] = {
            "email": self.email, "password": self.password,
            "client_secret": str(platform.secret), "client_address": "127.0.0.1"}
        self.request_ids: set[str] = set()

    def keep(self, name: str, value: str) -> str:
        self.secrets[name] = value
        return value

    def browser(self) -> HttpBrowser:
        browser = HttpBrowser(self.url)
        browser.session.hooks["response"].append(self.saw)
        return browser

    def saw(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.request_ids.add(response.headers["X-Request-ID"])

    def mail_link(self, subject_word: str, since: int) -> str:
        """The link of the first mail to the traveller after the first ``since``, waited
        for with a deadline (the provider sends after its response)."""
        deadline = time.monotonic() + MAIL_DEADLINE
        while len(self.mailbox.to(self.email)) <= since:
            assert time.monotonic() < deadline, f"no {subject_word} mail"
            time.sleep(0.05)
        message = self.mailbox.to(self.email)[since]
        [link] = [link for link in self.mailbox.links(message) if subject_word in link]
        self.keep(f"{subject_word} token", link.rstrip("/").rsplit("/", 1)[1])
        return link

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        response = requests.post(f"{self.url}{path}", timeout=10, **kwargs)
        self.saw(response)
        return response


def sign_up(story: Story) -> HttpBrowser:
    browser = story.browser()
    browser.get(f"{story.url}/signup")
    browser.submit({"given_name": "Ada", "family_name": "Story", "email": story.email,
                    "password": story.password})
    browser.get(story.mail_link("verify", since=0))
    page = browser.submit({"password": story.password})
    assert page.status_code == 200, page.text
    return browser


def reset_password(story: Story, browser: HttpBrowser) -> None:
    browser.get(f"{story.url}/password/forgot")
    sent = len(story.mailbox.to(story.email))
    browser.submit({"email": story.email})
    browser.get(story.mail_link("reset", since=sent))
    story.password = story.keep("new password", "another long ride, to the Alps this time")
    browser.submit({"password": story.password})
    log_in(story, browser)


def log_in(story: Story, browser: HttpBrowser, url: str | None = None) -> requests.Response:
    browser.get(url or f"{story.url}/login")
    return browser.submit({"email": story.email, "password": story.password})


def enrol_totp(story: Story, browser: HttpBrowser) -> str:
    page = browser.get(f"{story.url}/account/two-step")
    key = story.keep("totp key", read_key(page.text))
    page = browser.submit({"code": story.keep("totp code", code_at(key))})
    for number, code in enumerate(RECOVERY_CODE.findall(page.text)):
        story.keep(f"recovery code {number}", code)
    return key


def authorize(story: Story, key: str) -> tuple[HttpBrowser, str, str]:
    """A fresh browser: password, then the next step's TOTP code (the first one is used
    up), then consent; the code the platform receives and the PKCE verifier."""
    verifier = story.keep("verifier", secrets.token_urlsafe(48))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {"response_type": "code", "client_id": story.platform.client_id,
             "redirect_uri": story.platform.redirect_uri, "scope": SCOPE,
             "state": story.keep("state", secrets.token_urlsafe(16)),
             "nonce": story.keep("nonce", secrets.token_urlsafe(16)),
             "code_challenge": challenge.decode().rstrip("="), "code_challenge_method": "S256"}
    browser = story.browser()
    log_in(story, browser, f"{story.url}/authorize?{urlencode(query)}")
    browser.submit({"code": story.keep("second totp code", code_at(key, 30))})
    answer = browser.allow_all()
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    return browser, story.keep("code", code), verifier


def use_tokens(story: Story, code: str, verifier: str) -> None:
    """Code exchange, userinfo, refresh, revocation: a platform's calls."""
    auth = (story.platform.client_id, str(story.platform.secret))
    tokens = story.post("/token", auth=auth, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": story.platform.redirect_uri}).json()
    for name in ("access_token", "refresh_token", "id_token"):
        story.keep(name, tokens[name])
    info = requests.get(f"{story.url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {tokens['access_token']}", "X-Request-ID": PROXY_ID})
    story.saw(info)
    assert info.json()["email"] == story.email
    renewed = story.post("/token", auth=auth, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    for name in ("access_token", "refresh_token"):  # an ID token only if the grant gives one
        story.keep(f"renewed {name}", renewed[name])
    revoked = story.post("/revoke", auth=auth, data={"token": renewed["refresh_token"]})
    assert revoked.status_code == 200


def delete_account(story: Story, browser: HttpBrowser) -> None:
    browser.get(f"{story.url}/account/delete")
    page = browser.submit({"password": story.password})
    assert page.status_code == 200, page.text


@pytest.fixture
def story(app: Flask, database_url: str, tmp_path: Path,
          smtp_server: tuple[Controller, Mailbox]) -> Iterator[tuple[Story, Server]]:  # noqa: F811
    """The production command on this test's database, its mail to a real SMTP server,
    its throttling counts in a Redis database of its own, emptied first."""
    controller, mailbox = smtp_server
    mailbox.clear()
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/4"
    redis.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        platform = factories.make_platform()
    port = free_port()
    environ = production_environ(
        database_url, port, IDP_LOG_FORMAT="", IDP_LOG_LEVEL="debug", IDP_REDIS_URL=redis_url,
        IDP_SMTP_URL=f"smtp://{controller.hostname}:{controller.port}")
    server = start(environ, tmp_path / "gunicorn.log")
    yield Story(server, mailbox, platform), server
    server.stop()


def lines_of(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.strip()]
    for line in lines:
        assert line.startswith("{"), f"not a JSON line: {line}"
    return [json.loads(line) for line in lines]


def leaks(output: str, story: Story) -> list[str]:
    """The names of the values found in the output; digits only as a whole number (a
    six-digit code must not match inside a timestamp's microseconds)."""
    found = []
    for name, value in story.secrets.items():
        pattern = rf"(?<!\d){value}(?!\d)" if value.isdigit() else re.escape(value)
        if re.search(pattern, output):
            found.append(name)
    return found


def test_a_whole_story_leaves_json_lines_without_a_secret(
        story: tuple[Story, Server]) -> None:
    tale, server = story
    browser = sign_up(tale)
    reset_password(tale, browser)
    key = enrol_totp(tale, browser)
    browser, code, verifier = authorize(tale, key)
    use_tokens(tale, code, verifier)
    delete_account(tale, browser)
    assert server.stop() == 0

    lines = lines_of(server.output)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert leaks(server.output, tale) == []
    # Every request has its access line; the only others are the start's health checks.
    ours = {line["request_id"]: line for line in access if line["route"] != "/healthz"}
    assert set(ours) == tale.request_ids
    # The provider's own lines (mail sent after the response too) name their request.
    assert all(line["request_id"] in ours for line in lines
               if line["logger"].split(".")[0] in ("idp", "consent", "clients"))
    answered = {line["request_id"] for line in access}
    assert [line for line in lines if line["request_id"] not in answered | {None}] == []
    assert any(line["logger"] == "idp.mail" for line in lines)
    userinfo = next(line for line in access if line["request_id"] == PROXY_ID)
    assert userinfo["route"] == "/userinfo"
    assert userinfo["status"] == 200
    assert userinfo["client_id"] == tale.platform.client_id
    assert re.fullmatch(r"[0-9a-f]{16}", userinfo["traveller"])
    assert isinstance(userinfo["duration_ms"], float)
    grants = [line for line in access if line["route"] == "/token"]
    assert [line["traveller"] for line in grants] == [userinfo["traveller"]] * 2


def test_text_lines_carry_the_request_id_too(database_url: str, tmp_path: Path) -> None:
    environ = production_environ(database_url, free_port(), IDP_LOG_FORMAT="text")
    server = start(environ, tmp_path / "gunicorn.log")
    answer = requests.get(f"{server.url}/userinfo", headers={"X-Request-ID": PROXY_ID},
                          timeout=5)
    server.stop()

    assert answer.headers["X-Request-ID"] == PROXY_ID
    [line] = [line for line in server.output.splitlines() if "/userinfo" in line]
    assert '"GET /userinfo HTTP/1.1" 401' in line
    assert f"request={PROXY_ID} client=- traveller=-" in line
    assert "127.0.0.1" not in server.output


def test_a_wrong_log_format_stops_the_server_with_one_clear_line(
        database_url: str, tmp_path: Path) -> None:
    environ = production_environ(database_url, free_port(), IDP_LOG_FORMAT="yaml")

    server = launch(environ, tmp_path / "gunicorn.log")
    server.process.wait(30)
    server.stop()

    assert server.process.returncode != 0
    assert "IDP_LOG_FORMAT must be json or text" in server.output
    assert "Traceback" not in server.output
