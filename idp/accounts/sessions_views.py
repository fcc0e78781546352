"""The "Where you are signed in" page: the traveller's active browser sessions, each
named by device and approximate place, and the buttons that end them.

Ending a session is not a sensitive change in the sense of ASVS 7.5.1 (it only takes
access away), so no fresh password is asked: someone who fears a stolen session must be
able to end it at once. Each form carries a CSRF token (checked for every POST by
CSRFProtect), and a session is looked up only
among the traveller's own, so a forged id ends nothing (404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from idp.accounts import events, expiry, sessions_cli
from idp.accounts.devices import device_name
from idp.accounts.forms import ConfirmForm
from idp.accounts.login import end_session, end_sessions, log_out, require_login
from idp.accounts.models import BrowserSession
from idp.accounts.networks import describe_place, open_geoip
from idp.extensions import db, utcnow

bp = Blueprint("sessions", __name__, url_prefix="/account/sessions")
# The tag given to platforms (back-channel logout) and the audit log.
REASON = "session_ended"


@dataclass(frozen=True)
class SessionRow:
    """One line of the page: what a traveller needs to recognise a session."""

    id: int
    device: str
    place: str
    signed_in_at: datetime
    last_seen_at: datetime
    current: bool


def query_active(user_id: int) -> list[BrowserSession]:
    """The traveller's sessions that have not lapsed, most recently used first."""
    return list(db.session.scalars(
        db.select(BrowserSession)
        .where(BrowserSession.user_id == user_id, ~expiry.expired_clause(utcnow()))
        .order_by(BrowserSession.last_seen_at.desc(), BrowserSession.id.desc())
    ))


def describe(login: BrowserSession, current: BrowserSession) -> SessionRow:
    return SessionRow(login.id, device_name(login.user_agent), describe_place(login.ip_prefix),
                      login.created_at, login.last_seen_at, login.id == current.id)


@bp.route("")
def index() -> ResponseReturnValue:
    current = require_login()
    rows = sorted((describe(s, current) for s in query_active(current.user_id)),
                  key=lambda row: not row.current)  # this device first
    return render_template("accounts/sessions.html", rows=rows, form=ConfirmForm(),
                           user=current.user)


# Ids beyond PostgreSQL's integer are a 404 from the router, never a database error.
@bp.route("/<int(max=2147483647):session_id>/end", methods=["POST"])
def end(session_id: int) -> ResponseReturnValue:
    current = require_login()
    target = db.session.scalar(db.select(BrowserSession).where(
        BrowserSession.id == session_id, BrowserSession.user_id == current.user_id))
    if target is None:
        abort(404)  # not theirs, or already ended: nothing is revealed, nothing ended
    if target.id == current.id:
        log_out(notify_platforms=True)
        flash(_l("You are logged out."), "success")
        return redirect(url_for("accounts.login"))
    end_session(target, REASON)
    events.announce(current.user, events.SESSIONS_ENDED, count=1)
    db.session.commit()
    flash(_l("Done. That session has ended."), "success")
    return redirect(url_for("sessions.index"))


@bp.route("/end-others", methods=["POST"])
def end_others() -> ResponseReturnValue:
    current = require_login()
    ended = end_sessions(current.user, keep=current, reason=REASON)
    events.announce(current.user, events.SESSIONS_ENDED, count=ended)
    db.session.commit()
    flash(_l("Done. You are now signed in on this device only."), "success")
    return redirect(url_for("sessions.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.cli.add_command(sessions_cli.sessions)
    open_geoip(app)
