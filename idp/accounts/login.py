"""The browser's login state: a random key in the signed session cookie, a row in
``browser_session`` holding its digest, the authentication time and methods."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import bindparam

from idp.accounts import expiry
from idp.accounts.events import announce_sign_in
from idp.accounts.models import BrowserSession, User
from idp.accounts.networks import ip_prefix
from idp.digests import digest
from idp.direct_sql import Columns, EntityRead
from idp.extensions import db, utcnow
from idp.oauth.backchannel import notify_logout

ACR_PASSWORD = "urn:mobility-id:acr:password"
# Password and a second factor (an authenticator code or a recovery code).
ACR_MFA = "urn:mobility-id:acr:mfa"
SESSION_KEY = "login"
# Keys that survive a login: the pending authorization requests and the chosen language.
KEPT_ON_LOGIN = ("interactions", "lang")
LAST_SEEN_GRANULARITY = timedelta(minutes=1)


def current_login() -> BrowserSession | None:
    if "idp_login" not in g:
        g.idp_login = _load_login()
    login: BrowserSession | None = g.idp_login
    return login


def require_login() -> BrowserSession:
    """The current session; a visitor without one is sent to login, and back here after
    (the request ends with that redirect)."""
    login = current_login()
    if login is None:
        abort(redirect(url_for("accounts.login", next=request.path)))
    return login


def current_user() -> User | None:
    login = current_login()
    return login.user if login else None


@functools.cache  # compiled once per dialect (idp/direct_sql.py)
def session_with_user() -> EntityRead[BrowserSession]:
    return EntityRead(Columns(BrowserSession), BrowserSession.key_hash == bindparam("key_hash"),
                      joined={"user": Columns(User)})


def _load_login() -> BrowserSession | None:
    key = session.get(SESSION_KEY)
    if not isinstance(key, str):
        return None
    # With its traveller: nearly every page that finds a session reads who it is.
    login = session_with_user().entity({"key_hash": digest(key)})
    now = utcnow()
    if login is not None and expiry.check_expired(login, now):
        # A lapsed session ends like a logout: its platforms are told (decision in
        # idp/accounts/expiry.py), and the row goes, so the key is worth nothing.
        end_session(login, expiry.REASON)
        db.session.commit()
        login = None
    if login is None:
        session.pop(SESSION_KEY, None)
        return None
    if now - login.last_seen_at > LAST_SEEN_GRANULARITY:
        login.last_seen_at = now
        login.ip_prefix = ip_prefix(request.remote_addr) or login.ip_prefix
        db.session.commit()
    return login


def log_in(user: User, amr: list[str], acr: str, user_agent: str | None) -> BrowserSession:
    """Start a new browser session. The old session content is dropped and a new key is
    drawn, so a session fixed before login is worth nothing after it. The session it
    replaces has ended: its platforms are told, as at logout (someone else may be taking
    over a shared computer)."""
    log_out(notify_platforms=True)
    kept = {k: session[k] for k in KEPT_ON_LOGIN if k in session}
    session.clear()
    session.update(kept)
    key = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = current_app.extensions["idp.settings"].session_lifetime
    login = BrowserSession(
        key_hash=digest(key),
        sid=secrets.token_urlsafe(16),
        user_id=user.id,
        auth_time=now,
        amr=amr,
        acr=acr,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=lifetime),
        user_agent=(user_agent or "")[:255] or None,
        ip_prefix=ip_prefix(request.remote_addr),
    )
    db.session.add(login)
    db.session.commit()
    session[SESSION_KEY] = key
    session.permanent = True
    g.idp_login = login
    announce_sign_in("success", "second-factor" if "mfa" in amr else "password")
    return login


def step_up(login: BrowserSession, amr: list[str], acr: str) -> BrowserSession:
    """Raise the current session to a stronger authentication (a second factor, asked by a
    platform). A new key is drawn, as at login, against session fixation; the ``sid``
    stays, so the platforms already signed in are not logged out."""
    key = secrets.token_urlsafe(32)
    login.key_hash = digest(key)
    login.amr = amr
    login.acr = acr
    login.auth_time = utcnow()
    db.session.commit()
    session[SESSION_KEY] = key
    g.idp_login = login
    return login


def log_out(notify_platforms: bool = False) -> None:
    """End the browser session; with ``notify_platforms``, every platform that received
    an ID token for it is told, in the same transaction (Back-Channel Logout 1.0)."""
    login = current_login()
    if login is not None:
        if notify_platforms:
            notify_logout(login.user, sid=login.sid, reason="logout")
        db.session.delete(login)
        db.session.commit()
    session.pop(SESSION_KEY, None)
    g.idp_login = None


def forget_login() -> None:
    """Drop the browser's login key once its session row is already gone (account erased)."""
    session.pop(SESSION_KEY, None)
    g.idp_login = None


def end_session(login: BrowserSession, reason: str = "logout") -> None:
    """End one browser session of the traveller (from another device, or after a
    password reset): its platforms are told by back-channel logout, in the caller's
    transaction. The caller commits."""
    notify_logout(login.user, sid=login.sid, reason=reason)
    db.session.delete(login)


def end_sessions(user: User, keep: BrowserSession | None = None,
                 reason: str = "logout") -> int:
    """End every session of the traveller but ``keep``; the number ended. The caller
    commits."""
    others = [s for s in user.sessions if keep is None or s.id != keep.id]
    for login in others:
        end_session(login, reason)
    return len(others)
