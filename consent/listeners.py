"""What consent hears from idp: each back-channel logout attempt enters the audit log,
in the transaction that records the attempt (idp/signals.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask

from consent import audit
from idp.signals import backchannel_attempted


def record_attempt(sender: Flask, *, message_id: int, client_id: str, subject: str | None,
                   reason: str, outcome: str, status: int | None, attempt: int,
                   at: datetime, **_: Any) -> None:
    audit.record(audit.BACKCHANNEL_ATTEMPT, subject=subject, client_id=client_id,
                 data={"message_id": message_id, "reason": reason, "outcome": outcome,
                       "status": status, "attempt": attempt, "at": at.isoformat()})


def init_app(app: Flask) -> None:
    backchannel_attempted.connect(record_attempt, sender=app, weak=False)
