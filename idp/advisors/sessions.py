"""An advisor's signed-in state: a random key in a cookie of its own (not the traveller's
session cookie, so an advisor is never a traveller), a row in ``advisor_session`` holding
its digest. Revoking an advisor deletes their rows: every instance refuses them at once."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, Response, current_app, g, request

from idp.advisors.models import Advisor, AdvisorSession
from idp.digests import digest
from idp.extensions import db, utcnow

LIFETIME = timedelta(hours=10)  # a working day, then sign in again
IDLE_TIMEOUT = timedelta(minutes=30)
LAST_SEEN_GRANULARITY = timedelta(minutes=1)
PENDING_LIFETIME = timedelta(minutes=10)  # between the password and the code


def cookie_name() -> str:
    settings = current_app.extensions["idp.settings"]
    return "__Host-idp_advisor" if settings.is_production and settings.is_https \
        else "idp_advisor"


def query_session() -> AdvisorSession | None:
    """This request's advisor session row (verified or not), if the cookie names a live one."""
    if "idp_advisor_session" not in g:
        g.idp_advisor_session = _load()
    found: AdvisorSession | None = g.idp_advisor_session
    return found


def _load() -> AdvisorSession | None:
    key = request.cookies.get(cookie_name())
    if not key:
        return None
    row = db.session.scalar(
        db.select(AdvisorSession).where(AdvisorSession.key_hash == digest(key))
        .execution_options(populate_existing=True))
    if row is None:
        return None
    now = utcnow()
    if (row.expires_at <= now or now - row.last_seen_at > IDLE_TIMEOUT
            or row.advisor.revoked_at is not None):
        db.session.delete(row)
        db.session.commit()
        g.idp_advisor_clear = True
        return None
    if now - row.last_seen_at > LAST_SEEN_GRANULARITY:
        row.last_seen_at = now
        db.session.commit()
    return row


def start_session(advisor: Advisor, verified: bool = False) -> str:
    """A new session row for ``advisor`` (any previous one of this browser ends); the
    key goes out in the cookie when the response leaves (``init_app``). Commits."""
    end_session()
    key = secrets.token_urlsafe(32)
    now = utcnow()
    row = AdvisorSession(key_hash=digest(key), advisor_id=advisor.id, last_seen_at=now,
                         verified_at=now if verified else None,
                         expires_at=now + (LIFETIME if verified else PENDING_LIFETIME))
    db.session.add(row)
    db.session.commit()
    g.idp_advisor_session = row
    g.idp_advisor_key = key
    g.pop("idp_advisor_clear", None)
    return key


def verify_session(row: AdvisorSession) -> None:
    """The authenticator code was right: the session is signed in, under a new key (a key
    seen before the second step is worth nothing after it). Commits."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    row.key_hash = digest(key)
    row.verified_at = now
    row.last_seen_at = now
    row.expires_at = now + LIFETIME
    db.session.commit()
    g.idp_advisor_key = key


def end_session() -> None:
    """Sign this browser's advisor out. Commits."""
    row = query_session()
    if row is not None:
        db.session.delete(row)
        db.session.commit()
    g.idp_advisor_session = None
    g.idp_advisor_clear = True


def end_sessions(advisor: Advisor) -> int:
    """End every session of ``advisor``, on every instance (the caller commits)."""
    result = db.session.execute(
        db.delete(AdvisorSession).where(AdvisorSession.advisor_id == advisor.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _set_cookie(response: Response) -> Response:
    key = g.get("idp_advisor_key")
    settings = current_app.extensions["idp.settings"]
    if key:
        response.set_cookie(cookie_name(), key, httponly=True, secure=settings.is_https,
                            samesite="Lax", path="/", max_age=int(LIFETIME.total_seconds()))
    elif g.get("idp_advisor_clear"):
        response.delete_cookie(cookie_name(), path="/", secure=settings.is_https,
                               httponly=True, samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_set_cookie)
