"""When a browser session ends by itself: ``session_lifetime`` after login (absolute) or
``session_idle_timeout`` after its last request (idle), whichever comes first (OWASP
ASVS 3.3.1 and 3.3.2).

A lapsed session ends as a logout does: its row is deleted and the platforms that got
tokens in it are told by back-channel logout (reason ``session_expired``), whether it is
found lapsed when presented or by ``idp sessions prune``. A platform's session must not
outlive the provider session it rests on: a traveller who walked away from a shared
computer expects to be signed out everywhere once the provider has signed them out."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, or_

from idp.accounts.models import BrowserSession

# The reason given to platforms, by back-channel logout, when a session lapses.
REASON = "session_expired"


def idle_timeout() -> timedelta:
    return timedelta(seconds=current_app.extensions["idp.settings"].session_idle_timeout)


def check_expired(login: BrowserSession, now: datetime) -> bool:
    """The session has passed its absolute lifetime or has been idle too long."""
    return login.expires_at <= now or now - login.last_seen_at > idle_timeout()


def expired_clause(now: datetime) -> ColumnElement[bool]:
    """``check_expired`` as a SQL condition, for listing and pruning."""
    return or_(BrowserSession.expires_at <= now,
               BrowserSession.last_seen_at < now - idle_timeout())
