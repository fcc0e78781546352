"""Resources (protected APIs) that platforms serve, and resource indicators (RFC 8707).

A platform registers the APIs it serves: an identifier URI (the ``aud`` of the tokens
meant for it), a name, the actions it offers (``trips:search``) each described in plain
words, and the claims it needs to serve them. Another platform may then ask, with
``resource`` and the actions in ``scope``, to act on it for a traveller (issue 14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error, scope_to_list
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db, utcnow
from idp.oauth.models import Client
from idp.types import UTCDateTime

MAX_URI_LENGTH = 255


class InvalidTargetError(OAuth2Error):
    """RFC 8707 2: the resource asked for is unknown, or the actions asked are not ones
    it offers (RFC 8693 2.2.2 uses the same code for the token exchange)."""

    error = "invalid_target"


class Resource(db.Model):  # type: ignore[name-defined,misc]
    """An API a platform serves. Its URI is unique across platforms: a token's audience
    must name one API of one platform."""

    __tablename__ = "resource"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(MAX_URI_LENGTH), unique=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("client.client_id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # {action: {"en": "search rides", "fr": "chercher des trajets"}}
    actions: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    # The claims the platform needs to serve these actions; each released only if ticked.
    claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship()

    def describe_action(self, action: str, language: str) -> str:
        words = self.actions.get(action) or {}
        return words.get(language) or words.get("en") or action

    def as_metadata(self) -> dict[str, Any]:
        """As registration metadata shows it (``mob_resources``)."""
        return {"resource": self.uri, "name": self.name, "actions": dict(self.actions),
                "claims": list(self.claims)}


@dataclass(frozen=True)
class ResourceRequest:
    """What a platform asks of another's API: the resource and the actions."""

    resource: Resource
    actions: list[str]


def query_resource(uri: str | None) -> Resource | None:
    if not uri or len(uri) > MAX_URI_LENGTH:
        return None
    return db.session.scalar(db.select(Resource).where(Resource.uri == uri))


def resources_of(client_id: str) -> list[Resource]:
    return list(db.session.scalars(
        db.select(Resource).where(Resource.client_id == client_id).order_by(Resource.id)))


def find_resource(values: list[str], redirect_uri: str | None = None) -> Resource | None:
    """The one resource named by ``resource`` (RFC 8707 2), or None when none is named.
    Several are refused: a token has one audience here, and the consent one platform."""
    if not values:
        return None
    if len(set(values)) > 1:
        raise InvalidTargetError("Name one resource per request.", redirect_uri=redirect_uri)
    found = query_resource(values[0])
    if found is None:
        raise InvalidTargetError("This resource is not registered.",
                                 redirect_uri=redirect_uri)
    return found


def split_scope(scope: str | None, resource: Resource, known: set[str],
                redirect_uri: str | None = None) -> list[str]:
    """The actions among the ``scope`` values; any value that is neither a known scope
    nor an action of the resource is refused (RFC 8707 2: ``invalid_target``)."""
    values = list(dict.fromkeys(scope_to_list(scope or "")))
    actions = [v for v in values if v in resource.actions]
    strange = [v for v in values if v not in known and v not in resource.actions]
    if strange:
        raise InvalidTargetError("This resource does not offer: " + " ".join(strange),
                                 redirect_uri=redirect_uri)
    if not actions:
        raise InvalidTargetError("Name in 'scope' the actions asked on this resource.",
                                 redirect_uri=redirect_uri)
    return actions
