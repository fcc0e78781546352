"""Mail to travellers (idp.mail): through a real local SMTP server, in the traveller's
language, printed to the console when no server is set, and never fatal."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from jinja2 import ChoiceLoader, DictLoader

from idp.mail import send_mail
from tests.mail import Mailbox, mailbox, smtp_server  # noqa: F401

TO = "nawel@example.org"
# A template made of messages already translated, to see the locale reach the text.
GREETING = {"mail/greeting.txt": '{{ _("Log in") }}\n\n{{ _("Log out") }}\n'}


class Someone:
    given_name = "Nawel"


def use_smtp_url(app: Flask, url: str) -> None:
    app.extensions["idp.settings"] = replace(app.extensions["idp.settings"], smtp_url=url)


def with_templates(app: Flask, templates: dict[str, str]) -> None:
    app.jinja_env.loader = ChoiceLoader([DictLoader(templates), app.jinja_env.loader])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def verification(app: Flask, locale: str | None = None) -> bool:
    with app.test_request_context():
        return send_mail(TO, "verify_email", locale, user=Someone(),
                         link="https://idp.test/email/verify/abc",
                         lifetime=timedelta(days=1))


def test_a_message_reaches_the_server_with_its_headers(app: Flask, mailbox: Mailbox) -> None:
    assert verification(app, "en") is True

    message = mailbox.last(TO)
    assert message["Subject"] == "Confirm your email address for Mobility ID"
    assert message["From"] == app.extensions["idp.settings"].mail_from
    assert message["To"] == TO
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@idp.test>")
    assert message["Date"]
    assert mailbox.links(message) == ["https://idp.test/email/verify/abc"]
    assert "Hello Nawel," in Mailbox.body(message)


@pytest.mark.parametrize(("locale", "subject", "body", "duration"), [
    ("fr", "Se connecter", "Se déconnecter", "1\u00a0jour"),  # CLDR: a no-break space
    ("en", "Log in", "Log out", "1 day"),
])
def test_a_message_speaks_the_language_it_is_given(
        app: Flask, mailbox: Mailbox, locale: str, subject: str, body: str,
        duration: str) -> None:
    with_templates(app, GREETING)
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert send_mail(TO, "greeting", locale)
    message = mailbox.last(TO)
    assert message["Subject"] == subject
    assert Mailbox.body(message).strip() == body

    verification(app, locale)
    assert f"{duration}." in Mailbox.body(mailbox.last(TO))


def test_without_a_locale_the_page_language_is_used(app: Flask, mailbox: Mailbox) -> None:
    with_templates(app, GREETING)
    with app.test_request_context(headers={"Accept-Language": "en-GB,en;q=0.9"}):
        assert send_mail(TO, "greeting")
    assert mailbox.last(TO)["Subject"] == "Log in"


def test_without_a_server_the_message_is_printed(
        app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    use_smtp_url(app, "")
    assert verification(app, "en") is True
    printed = capsys.readouterr().err
    assert "IDP_SMTP_URL is not set" in printed
    assert "Subject: Confirm your email address for Mobility ID" in printed
    assert "https://idp.test/email/verify/abc" in printed


@pytest.mark.parametrize("url", [
    "smtp://127.0.0.1:{port}",  # nobody listens: connection refused
    "smtps://127.0.0.1:{port}",
    "http://127.0.0.1:{port}",  # not a mail server's scheme
    "smtp://",  # no host
])
def test_a_failing_server_is_logged_without_the_address(
        app: Flask, caplog: pytest.LogCaptureFixture, url: str) -> None:
    use_smtp_url(app, url.format(port=closed_port()))
    with caplog.at_level(logging.INFO, logger="idp.mail"):
        assert verification(app, "en") is False
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "verify_email" in record.getMessage()
    assert TO not in caplog.text and "nawel" not in caplog.text.lower()


def test_a_sent_message_is_logged_without_the_address(
        app: Flask, mailbox: Mailbox, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="idp.mail"):
        assert verification(app, "en") is True
    assert "mail verify_email sent" in caplog.text
    assert TO not in caplog.text and "abc" not in caplog.text
