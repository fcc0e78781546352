"""Read the text messages the provider sent through the file sender (``IDP_SMS_URL=
file:///…``): the same outbox whichever process sent them, as a phone would show them."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import Flask

CODE = re.compile(r"\b(\d{6})\b")
WAIT = 5.0  # seconds a test waits for a text message that must come


@dataclass
class SmsOutbox:
    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def messages(self, number: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        sent = [json.loads(line) for line in lines if line.strip()]
        return [m for m in sent if number is None or m["to"] == number]

    def last(self, number: str, wait: float = WAIT) -> str:
        """The last message to ``number``, waiting up to ``wait`` seconds for a first one:
        some are sent once the response has gone (``registration.after_response``), and
        a browser may show the next page before the server has sent it."""
        deadline = time.monotonic() + wait
        received = self.messages(number)
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
            received = self.messages(number)
        assert received, f"no SMS to {number}; sent to: {[m['to'] for m in self.messages()]}"
        return str(received[-1]["text"])

    def code(self, number: str) -> str:
        """The six-digit code in the last message to ``number``."""
        match = CODE.search(self.last(number))
        assert match, f"no code in {self.last(number)!r}"
        return match.group(1)


def outbox_for(app: Flask, folder: Path) -> SmsOutbox:
    """From now on ``app`` sends its text messages to a file outbox in ``folder``."""
    outbox = SmsOutbox(folder / "sms.jsonl")
    app.extensions["idp.settings"] = replace(app.extensions["idp.settings"],
                                             sms_url=outbox.url)
    return outbox
