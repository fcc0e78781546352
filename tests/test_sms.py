"""The SMS senders: chosen by IDP_SMS_URL, in the traveller's language, none in production
without a URL, and a failing sender reported without the number or the code."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from idp import sms
from tests.sms import SmsOutbox


def use(app: Flask, url: str, **changes: object) -> None:
    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = replace(settings, sms_url=url, **changes)


def test_file_sender_writes_the_message_in_the_travellers_language(
        app: Flask, tmp_path: Path) -> None:
    outbox = SmsOutbox(tmp_path / "sms.jsonl")
    use(app, outbox.url)
    with app.test_request_context():
        assert sms.send_sms("+33612345678", "one_time_code", "fr", code="123456", minutes=10)
        assert sms.send_sms("+33698765432", "one_time_code", "en", code="654321", minutes=10)
    assert outbox.code("+33612345678") == "123456"
    assert "votre code" in outbox.last("+33612345678")
    assert "your code is 654321" in outbox.last("+33698765432")
    assert len(outbox.messages()) == 2


def test_console_is_the_development_default(app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    use(app, "", env="development")
    with app.test_request_context():
        assert sms.available()
        assert sms.send_sms("+33612345678", "one_time_code", "en", code="111222", minutes=5)
    assert "SMS to +33612345678" in capsys.readouterr().err


def test_production_without_a_sender_offers_no_sms(app: Flask) -> None:
    use(app, "", env="production")
    with app.test_request_context():
        assert not sms.available()
        assert not sms.send_sms("+33612345678", "one_time_code", "en", code="1", minutes=5)


def test_a_failing_sender_is_logged_without_number_or_code(
        app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    use(app, f"file://{tmp_path}/missing-dir/sms.jsonl")
    with app.test_request_context(), caplog.at_level(logging.INFO):
        assert not sms.send_sms("+33612345678", "one_time_code", "en", code="987654",
                                minutes=5)
    assert "one_time_code not sent" in caplog.text
    assert "987654" not in caplog.text and "612345678" not in caplog.text


def test_unknown_scheme_is_refused(app: Flask) -> None:
    use(app, "carrier-pigeon://coop")
    with app.test_request_context():
        assert not sms.send_sms("+33612345678", "one_time_code", "en", code="1", minutes=5)
