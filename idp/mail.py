"""Mail to travellers: plain text, in their language, through SMTP (``IDP_SMTP_URL``).

Without an SMTP URL (development and tests that do not read mail) the message is printed
to the console instead: production refuses to start without one (``idp.settings``).
A message is sent after the change it tells of is committed; a mail server that fails
is logged (by message kind, never the address or the content) and does not undo it."""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
from contextlib import nullcontext
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import after_this_request, current_app, g, render_template
from flask.wrappers import Response
from flask_babel import force_locale

log = logging.getLogger(__name__)
TIMEOUT = 10.0  # seconds for the mail server to answer each step


class MailError(RuntimeError):
    """The mail server could not be reached or refused the message."""


def send_mail(to: str, template: str, locale: str | None = None, **context: Any) -> bool:
    """Render ``templates/mail/<template>.txt`` and send it to ``to``. The template's
    first line is the subject, the rest (after a blank line) the body. ``locale``
    (the traveller's language) wins over the current request's. True when sent."""
    return _send(compose(to, template, locale, **context), template)


def send_mail_later(to: str, template: str, locale: str | None = None,
                    **context: Any) -> None:
    """Compose the mail now, send it once the response has gone to the client (the
    WSGI server closes it): the answer then takes the same time whether a mail left or
    not, so a mail server's delay tells nobody whether an account exists."""
    message = compose(to, template, locale, **context)
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def send() -> None:
        with app.app_context():
            _send(message, template)

    @after_this_request
    def later(response: Response) -> Response:
        response.call_on_close(send)
        return response


def _send(message: EmailMessage, template: str) -> bool:
    try:
        deliver(message)
    except MailError as error:
        log.warning("mail %s not sent: %s", template, error)
        return False
    log.info("mail %s sent", template)
    return True


def compose(to: str, template: str, locale: str | None, **context: Any) -> EmailMessage:
    # Flask-Babel forces a locale only when ``g`` holds something (outside a request,
    # e.g. mail sent after the response has gone, it is empty).
    g.setdefault("idp_mail", template)
    with force_locale(locale) if locale else nullcontext():
        text = render_template(f"mail/{template}.txt", **context)
    subject, _, body = text.lstrip().partition("\n")
    message = EmailMessage()
    message["Subject"] = subject.strip()
    message["From"] = settings().mail_from
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=urlsplit(settings().issuer).hostname)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(body.strip() + "\n")
    return message


def deliver(message: EmailMessage) -> None:
    url = settings().smtp_url
    if not url:
        sys.stderr.write(f"\n----- mail (IDP_SMTP_URL is not set) -----\n{message}\n")
        return
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError("IDP_SMTP_URL must be smtp://host:port or smtps://host:port")
    try:
        with _connect(parts.scheme, parts.hostname, parts.port) as server:
            if parts.username:
                server.login(unquote(parts.username), unquote(parts.password or ""))
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(type(exc).__name__) from exc


def _connect(scheme: str, host: str, port: int | None) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if scheme == "smtps":
        return smtplib.SMTP_SSL(host, port or 465, timeout=TIMEOUT, context=context)
    server = smtplib.SMTP(host, port or 587, timeout=TIMEOUT)
    server.ehlo()
    # Encrypt whenever the server offers it; a local relay without TLS still works.
    if server.has_extn("starttls"):
        server.starttls(context=context)
        server.ehlo()
    return server


def settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["idp.settings"]
