"""Delegations (issue 14): a platform (the actor) acting on another platform's API for
the traveller, only as far as the traveller agreed.

A delegation is part of the actor's consent record (``ConsentRecord.delegations``), one
entry per resource: the resource and its platform, the actions allowed, the claims
released to the resource's platform, the `sub` that platform sees, and the expiry. The
record, its signed receipt, the audit log and the data export all carry it. Stopping a
delegation is a new record without the entry, and revokes at once every token the actor
got for that resource (:func:`stop_delegation`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from consent import audit, records
from consent.models import NARROWED, ConsentRecord
from consent.screen import CLAIM_LABELS, preview_one
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.oauth.decisions import DelegationGrant
from idp.oauth.events import StoppedDelegation, notify_delegation_stopped
from idp.oauth.models import Client
from idp.oauth.resources import Resource, ResourceRequest, query_resource
from idp.oauth.revocation import revoke_delegated_tokens
from idp.oauth.subjects import subject_for

PURPOSE_VERSION = 1


@dataclass
class Offer:
    """What the consent screen says about a delegation, in the traveller's language."""

    resource: Resource
    actions: list[str]
    sentence: str
    # (claim, label, the traveller's own value): boxes, never ticked in advance.
    claims: list[tuple[str, str, str | None]] = field(default_factory=list)
    valid_until: str = ""
    # "Keep this going while you are not using {actor}": a box of its own, never ticked
    # in advance, offered when the actor asked offline_access (issue 14, part 3).
    offline: str | None = None

    @property
    def platform(self) -> str:
        return self.resource.client.client_name

    def shown(self) -> dict[str, Any]:
        """What the pending interaction keeps, to check the answer and record it."""
        return {"resource": self.resource.uri, "actions": self.actions,
                "claims": [c for c, _, _ in self.claims], "purpose": self.purpose(),
                "offline": self.offline is not None}

    def purpose(self) -> dict[str, Any]:
        """The purpose as the record keeps it: the digest of the exact sentence shown."""
        return {"id": f"delegation:{self.resource.uri}", "version": PURPOSE_VERSION,
                "sha256": hashlib.sha256(self.sentence.encode()).hexdigest()}


def make_offer(client: Client, user: User, request: ResourceRequest,
               offline: bool = False) -> Offer:
    """"Covoiturage régional may search rides and book seats on Covoiturage national
    for you." The actions in the resource platform's own words, in the page's language.
    ``offline``: the platform asked offline_access, to act while the traveller is away."""
    language = str(get_locale())
    words = [request.resource.describe_action(a, language) for a in request.actions]
    sentence = _("%(actor)s may %(actions)s on %(platform)s for you.", actor=client.client_name,
                 actions=joined(words), platform=request.resource.client.client_name)
    claims = [(c, str(CLAIM_LABELS.get(c, c)), preview_one(user, c))
              for c in request.resource.claims]
    until = utcnow().timestamp() + records.lifetime(special=False)
    keep = (_("Keep this going while you are not using %(actor)s", actor=client.client_name)
            if offline else None)
    return Offer(request.resource, list(request.actions), sentence, claims,
                 format_date(datetime.fromtimestamp(until, UTC), format="long"), keep)


def joined(words: list[str]) -> str:
    if len(words) < 2:
        return "".join(words)
    return _("%(first)s and %(last)s", first=", ".join(words[:-1]), last=words[-1])


def entry_for(record: ConsentRecord | None, resource: str) -> dict[str, Any] | None:
    if record is None:
        return None
    return next((e for e in record.delegations or [] if e.get("resource") == resource), None)


def is_live(entry: dict[str, Any] | None) -> bool:
    return entry is not None and datetime.fromisoformat(entry["valid_until"]) > utcnow()


def covers(record: ConsentRecord | None, request: ResourceRequest) -> bool:
    """Whether the consent in force already allows every action asked on the resource."""
    entry = entry_for(record, request.resource.uri)
    return is_live(entry) and set(request.actions) <= set(entry["actions"])  # type: ignore[index]


def new_entry(user: User, shown: dict[str, Any], ticked: list[str],
              offline: bool = False) -> dict[str, Any] | None:
    """The delegation the traveller agreed to, from what the screen offered: the claims
    ticked (never more than offered), the resource platform's own `sub`, and whether it
    may go on while the traveller is away (its own box: refresh tokens for the exchange)."""
    resource = query_resource(shown["resource"])
    if resource is None:
        return None
    return {"resource": resource.uri, "resource_client_id": resource.client_id,
            "resource_platform": resource.client.client_name,
            "resource_sub": subject_for(user, resource.client),
            "actions": list(shown["actions"]),
            "claims": [c for c in shown["claims"] if c in ticked],
            "offline_access": offline and bool(shown.get("offline"))}


def in_force(user: User, client: Client, resource: str) -> DelegationGrant | None:
    """For the token exchange: the delegation in force, read at every exchange."""
    entry = entry_for(records.current(user.id, client.client_id), resource)
    if entry is None or not is_live(entry):
        return None
    return DelegationGrant(resource=resource, actions=list(entry["actions"]),
                           claims=list(entry["claims"]),
                           valid_until=datetime.fromisoformat(entry["valid_until"]),
                           offline_access=bool(entry.get("offline_access")))


def stop_delegation(user: User, actor_client_id: str, resource: str) -> ConsentRecord | None:
    """End a delegation: a new record of the actor's consent without it, a
    ``delegation:stopped`` audit event, every token the actor got for the resource
    revoked, and both platforms told (idp.oauth.events), in one transaction that the
    caller commits. The actor keeps the rest of its consent. Returns None when no such
    delegation was in force."""
    previous = records.current(user.id, actor_client_id)
    entry = entry_for(previous, resource)
    if previous is None or entry is None:
        return None
    revoked = revoke_delegated_tokens(user.id, actor_client_id, resource)
    notify_delegation_stopped(user, StoppedDelegation(
        actor_client_id, resource, entry["resource_client_id"], list(entry["actions"])))
    return records.follow(previous, NARROWED, list(previous.scopes_granted),
                          list(previous.claims_granted),
                          delegations=[e for e in previous.delegations if e is not entry],
                          event=audit.DELEGATION_STOPPED,
                          extra={**records.delegation_summary(entry),
                                 "tokens_revoked": revoked})


@dataclass(frozen=True)
class InForce:
    """A delegation in force as "My platforms" shows it, under both platforms."""

    actor_client_id: str
    actor: str
    resource: str
    resource_client_id: str
    platform: str
    actions: str  # in the resource platform's words, in the page's language
    claims: list[str]  # what the resource's platform sees, as labels
    valid_until: datetime

    @property
    def sentence(self) -> str:
        return _("%(actor)s can %(actions)s on %(platform)s for you.", actor=self.actor,
                 actions=self.actions, platform=self.platform)

    def involves(self, client_id: str) -> bool:
        return client_id in (self.actor_client_id, self.resource_client_id)


def all_in_force(consents: Iterable[ConsentRecord]) -> list[InForce]:
    """Every delegation in force among these consents (of one traveller), with its
    resource's words read in one query."""
    entries = [(r, e) for r in consents for e in r.delegations or [] if is_live(e)]
    uris = [e["resource"] for _r, e in entries]
    found = {res.uri: res for res in db.session.scalars(
        db.select(Resource).where(Resource.uri.in_(uris)).options(joinedload(Resource.client)))}
    return [in_force_view(r, e, found.get(e["resource"])) for r, e in entries]


def in_force_view(record: ConsentRecord, entry: dict[str, Any],
                  resource: Resource | None) -> InForce:
    language = str(get_locale())
    words = [resource.describe_action(a, language) if resource else a
             for a in entry["actions"]]
    return InForce(record.client_id, str(record.controller.get("name", record.client_id)),
                   entry["resource"], entry["resource_client_id"],
                   resource.client.client_name if resource else entry["resource_platform"],
                   joined(words), [str(CLAIM_LABELS.get(c, c)) for c in entry["claims"]],
                   datetime.fromisoformat(entry["valid_until"]))
