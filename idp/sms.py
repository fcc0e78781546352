"""Text messages (SMS) to travellers: one-time codes, in their language, through the
sender ``IDP_SMS_URL`` names. Senders are chosen by the URL's scheme (``SENDERS``):

- ``console:`` prints the message (development; also the default there when unset);
- ``file:///path/outbox.jsonl`` appends one JSON line per message, which tests and
  demos read back, from any process;
- ``brevo://API_KEY@api.brevo.com?sender=MobilityID`` sends through Brevo's
  transactional SMS API (``POST /v3/transactionalSMS/send`` over https, the key in the
  ``api-key`` header; ``sender``: at most 11 letters and digits, as the phone shows it);
  ``brevo+http://KEY@127.0.0.1:PORT?sender=Test`` is the same over plain http, for a
  stand-in server on a loopback address (tests);
- another provider's adapter, registered under its own scheme in ``SENDERS``.

In production with no ``IDP_SMS_URL`` there is no sender: ``available()`` is false and
the pages offer no SMS route. A message is short plain text rendered from
``templates/sms/<template>.txt``. A sender that fails is logged by message kind, never
the number or the text (which holds a code), and the caller is told (False)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

import requests
from flask import current_app, render_template
from flask_babel import force_locale

from idp.extensions import utcnow

log = logging.getLogger(__name__)


class SmsError(RuntimeError):
    """The sender could not deliver the message; the text says why, without the number."""


Sender = Callable[[SplitResult, str, str], None]


def _console(url: SplitResult, number: str, text: str) -> None:
    sys.stderr.write(f"\n----- SMS to {number} -----\n{text}\n")


def _file(url: SplitResult, number: str, text: str) -> None:
    line = json.dumps({"to": number, "text": text, "sent_at": utcnow().isoformat()},
                      ensure_ascii=False)
    try:
        with Path(url.path).open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")
    except OSError as exc:
        raise SmsError(type(exc).__name__) from exc


BREVO_PATH = "/v3/transactionalSMS/send"
BREVO_TIMEOUT = 10  # seconds: a page waits for it


def _brevo(url: SplitResult, number: str, text: str) -> None:
    """Brevo's transactional SMS API; its error answers become SmsError by status only
    (their text may repeat the number)."""
    scheme = "http" if url.scheme == "brevo+http" else "https"
    body: dict[str, Any] = {
        "sender": parse_qs(url.query).get("sender", ["MobilityID"])[0],
        "recipient": number.lstrip("+"),  # international, without the plus
        "content": text, "type": "transactional",
        "unicodeEnabled": True,  # accents and ’ as typed, not transliterated
    }
    headers = {"api-key": unquote(url.username or ""), "accept": "application/json"}
    try:
        answer = requests.post(f"{scheme}://{url.hostname}{_port(url)}{BREVO_PATH}",
                               json=body, headers=headers, timeout=BREVO_TIMEOUT,
                               allow_redirects=False)
    except requests.RequestException as exc:
        raise SmsError(f"Brevo unreachable ({type(exc).__name__})") from None
    if not 200 <= answer.status_code < 300:
        raise SmsError(f"Brevo answered {answer.status_code}")


def _port(url: SplitResult) -> str:
    return f":{url.port}" if url.port else ""


SENDERS: dict[str, Sender] = {"console": _console, "file": _file, "brevo": _brevo,
                              "brevo+http": _brevo}


def configured_url() -> str:
    settings = current_app.extensions["idp.settings"]
    if settings.sms_url:
        return str(settings.sms_url)
    return "" if settings.is_production else "console:"


def available() -> bool:
    """Whether an SMS can be sent at all (pages offer the phone route only then)."""
    return bool(configured_url())


def render(template: str, locale: str | None = None, **context: Any) -> str:
    with force_locale(locale) if locale else nullcontext():
        return render_template(f"sms/{template}.txt", **context).strip()


def send_sms(number: str, template: str, locale: str | None = None, **context: Any) -> bool:
    """Render ``templates/sms/<template>.txt`` in ``locale`` and send it to ``number``
    (E.164, e.g. +33612345678). True when the sender accepted it."""
    url = configured_url()
    if not url:
        log.warning("sms %s not sent: no IDP_SMS_URL", template)
        return False
    parts = urlsplit(url)
    sender = SENDERS.get(parts.scheme)
    if sender is None:
        log.warning("sms %s not sent: unknown sender %r", template, parts.scheme)
        return False
    try:
        sender(parts, number, render(template, locale, **context))
    except SmsError as error:
        log.warning("sms %s not sent: %s", template, error)
        return False
    log.info("sms %s sent", template)
    return True
