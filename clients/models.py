"""What the registration endpoint stores besides the clients themselves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db, utcnow
from idp.types import UTCDateTime


class InitialAccessToken(db.Model):  # type: ignore[name-defined,misc]
    """The operator's permission to register platforms at the registration endpoint
    (RFC 7591 3): kept as a digest, with an expiry and a number of uses left."""

    __tablename__ = "initial_access_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uses_left: Mapped[int] = mapped_column()
