"""What consent hears from idp: each back-channel logout attempt and security event
pushed, each change to how a traveller signs in or is reached, and each mandate and
assisted action enter the audit log in the transaction that makes them (idp/signals.py)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from flask import Flask

from consent import audit
from idp.accounts.models import User
from idp.advisors.assistance import Assistance
from idp.signals import (
    account_changed,
    assisted,
    backchannel_attempted,
    security_event_attempted,
)


def record_attempt(sender: Flask, *, message_id: int, client_id: str, subject: str | None,
                   reason: str, outcome: str, status: int | None, attempt: int,
                   at: datetime, event: str = audit.BACKCHANNEL_ATTEMPT, **_: Any) -> None:
    audit.record(event, subject=subject, client_id=client_id,
                 data={"message_id": message_id, "reason": reason, "outcome": outcome,
                       "status": status, "attempt": attempt, "at": at.isoformat()})


def record_account_change(sender: Flask, *, user: User, event: str,
                          data: dict[str, Any], **_: Any) -> None:
    audit.record(f"account:{event}", user=user, data=data)


def record_assisted(sender: Flask, *, user: User, event: str, assistance: Assistance,
                    data: dict[str, Any], **_: Any) -> None:
    audit.record(event, user=user, data={**data, **assistance.audit_data()})


def init_app(app: Flask) -> None:
    backchannel_attempted.connect(record_attempt, sender=app, weak=False)
    security_event_attempted.connect(partial(record_attempt, event=audit.SECURITY_EVENT_ATTEMPT),
                                     sender=app, weak=False)
    account_changed.connect(record_account_change, sender=app, weak=False)
    assisted.connect(record_assisted, sender=app, weak=False)
