"""``idp sessions prune``: end the browser sessions that have lapsed, for cron. A lapsed
session is refused when presented anyway; pruning removes the rows nobody presents
again and tells their platforms (back-channel logout, reason ``session_expired``). It
also deletes the expired platform tokens (``idp.oauth.platform_tokens``)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import selectinload

from idp.accounts import expiry
from idp.accounts.login import end_session
from idp.accounts.models import BrowserSession
from idp.extensions import db, utcnow
from idp.oauth.platform_tokens import prune_expired as prune_platform_tokens

BATCH = 200  # sessions per transaction: a long backlog never holds one huge transaction


@click.group(help="Browser sessions of travellers.")
def sessions() -> None:
    pass


def prune_sessions() -> int:
    """End every lapsed session, a batch per transaction; the number ended."""
    ended = 0
    while True:
        batch = db.session.scalars(
            db.select(BrowserSession).where(expiry.expired_clause(utcnow()))
            .options(selectinload(BrowserSession.user))
            .order_by(BrowserSession.id).limit(BATCH)
        ).all()
        for login in batch:
            end_session(login, expiry.REASON)
        db.session.commit()
        ended += len(batch)
        if len(batch) < BATCH:
            return ended


@sessions.command("prune")
@with_appcontext
def prune() -> None:
    """Delete the sessions past their absolute lifetime or idle timeout, and the expired
    platform tokens (client credentials), which nothing else removes."""
    click.echo(f"ended {prune_sessions()} expired session(s)")
    removed = prune_platform_tokens()
    if removed:  # the usual answer stays one line for cron mail
        click.echo(f"deleted {removed} expired platform token(s)")
