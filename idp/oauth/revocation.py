"""Revoking tokens: a traveller's, when consent is withdrawn or the account deleted, and
one token at a time, when a platform asks (RFC 7009)."""

from __future__ import annotations

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from sqlalchemy import update

from idp.digests import digest
from idp.extensions import db, utcnow
from idp.oauth.models import AuthorizationCode, Token, find_either_token
from idp.oauth.platform_tokens import PlatformToken, find_platform_token

# RFC 7009 2.1: a public client may revoke its own tokens, identified by client_id only.
REVOCATION_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt",
                           "none"]
# Room for an RS256 JWT access token (RFC 9068, about 900 characters); longer input is
# no token of ours and is not worth hashing.
MAX_TOKEN_LENGTH = 4096


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


def revoke_delegated_tokens(user_id: int, client_id: str, audience: str) -> int:
    """Revoke the tokens a platform got for another's API (issue 14: a delegation ends).
    In the caller's transaction; every instance refuses them at the next request, since
    each request reads the stored row."""
    result = db.session.execute(
        update(Token)
        .where(Token.user_id == user_id, Token.client_id == client_id,
               Token.audience == audience, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def last_use(user_id: int) -> dict[str, object]:
    """When each platform last received a token for this traveller, in one query."""
    rows = db.session.execute(
        db.select(Token.client_id, db.func.max(Token.issued_at))
        .where(Token.user_id == user_id)
        .group_by(Token.client_id)
    )
    return {client_id: when for client_id, when in rows}


def find_token(token_string: str, lean: bool = True) -> tuple[Token | PlatformToken, str] | None:
    """The token row and which of its tokens this is. No hint is needed (RFC 7009 2.1,
    RFC 7662 2.1: it only helps the server search, and a wrong one must not hide the
    token): one read finds either of a grant's tokens, a second a platform's own token
    (client credentials), an access token of the platform tokens' table."""
    if not token_string or len(token_string) > MAX_TOKEN_LENGTH:
        return None
    wanted = digest(token_string)
    found = find_either_token(wanted, lean)
    if found is not None:
        return found
    platform = find_platform_token(wanted)
    return (platform, "access_token") if platform is not None else None


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009. The access and refresh tokens of one grant share a row, so revoking
    either revokes both (2.1 allows it for an access token, and asks it for a refresh
    token). An unknown token gets 200, as 2.2 asks."""

    CLIENT_AUTH_METHODS = REVOCATION_AUTH_METHODS

    def query_token(self, token_string: str,
                    token_type_hint: str | None) -> Token | PlatformToken | None:
        found = find_token(token_string)
        return found[0] if found else None

    def revoke_token(self, token: Token | PlatformToken, request: object) -> None:
        token.revoked_at = token.revoked_at or utcnow()
        db.session.commit()
