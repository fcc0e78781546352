"""Revoking a traveller's tokens: called by consent withdrawal and account deletion."""

from __future__ import annotations

from sqlalchemy import update

from idp.extensions import db, utcnow
from idp.oauth.models import AuthorizationCode, Token


def revoke_tokens(user_id: int, client_id: str | None = None) -> int:
    """Revoke every access and refresh token (and unused code) of the traveller, for one
    platform or all. In the caller's transaction: it commits with the change it serves."""
    now = utcnow()
    tokens = update(Token).where(Token.user_id == user_id, Token.revoked_at.is_(None))
    codes = update(AuthorizationCode).where(AuthorizationCode.user_id == user_id,
                                            AuthorizationCode.used_at.is_(None))
    if client_id is not None:
        tokens = tokens.where(Token.client_id == client_id)
        codes = codes.where(AuthorizationCode.client_id == client_id)
    result = db.session.execute(tokens.values(revoked_at=now)
                                .execution_options(synchronize_session=False))
    db.session.execute(codes.values(used_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def last_use(user_id: int) -> dict[str, object]:
    """When each platform last received a token for this traveller, in one query."""
    rows = db.session.execute(
        db.select(Token.client_id, db.func.max(Token.issued_at))
        .where(Token.user_id == user_id)
        .group_by(Token.client_id)
    )
    return {client_id: when for client_id, when in rows}
