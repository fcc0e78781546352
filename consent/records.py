"""Writing consent records: each decision a new row, and an audit event with it, in the
caller's transaction (the authorization code or the revocation commits them together)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import Select
from sqlalchemy.orm import aliased

from consent import audit
from consent.assisted import Assistance
from consent.models import (
    ENDED,
    EXPIRED,
    EXTENDED,
    GIVEN,
    NARROWED,
    WITHDRAWN,
    ConsentRecord,
    latest,
)
from consent.scopes import describe
from idp.accounts.models import BrowserSession, User
from idp.extensions import db, utcnow
from idp.oauth.claims import claims_for_scopes, subject_for
from idp.oauth.decisions import InForce
from idp.oauth.models import Client, Token
from idp.oauth.revocation import revoke_tokens

AUDIT_EVENTS = {
    GIVEN: "consent:granted",
    EXTENDED: "consent:scope_added",
    NARROWED: "consent:scope_withdrawn",
    WITHDRAWN: "consent:revoked",
    EXPIRED: "consent:expired",
}


def current(user_id: int, client_id: str) -> ConsentRecord | None:
    """The consent in force, or None. An outdated one is ended by an 'expired' record."""
    record = latest(user_id, client_id)
    if record is None or record.event_type in ENDED:
        return None
    if record.valid_until is not None and record.valid_until <= utcnow():
        follow(record, EXPIRED, [], [])
        db.session.commit()
        return None
    return record


def lifetime(special: bool) -> int:
    """Seconds a consent lasts: special-category data never longer than 12 months."""
    seconds = int(current_app.extensions["idp.settings"].consent_lifetime)
    return min(seconds, 365 * 24 * 3600) if special else seconds


def give(user: User, client: Client, login: BrowserSession | None, scopes: list[str],
         claims: list[str], refused: list[str], purposes: list[dict[str, Any]],
         language: str, assistance: Assistance | None = None,
         delegation: dict[str, Any] | None = None) -> ConsentRecord:
    """Record the traveller's yes: given, or extended when it adds to a consent in force.
    With ``assistance``, the yes was given with an advisor's help under a mandate
    (consent.assisted): the record says who helped and how, and no login of the traveller
    (``login`` is then None: nobody signed in as them)."""
    previous = current(user.id, client.client_id)
    if previous is not None:
        scopes = sorted(set(previous.scopes_granted) | set(scopes))
        claims = sorted(set(previous.claims_granted) | set(claims))
        refused = sorted(set(refused) - set(scopes))
    special = any(describe(s).special for s in scopes)
    valid_until = utcnow() + timedelta(seconds=lifetime(special))
    entries = list(previous.delegations or []) if previous is not None else []
    if delegation is not None:
        # Issue 14: a refresh token for the delegation only with offline_access granted
        # for it, by its own box (consent.delegations.new_entry), never by the platform's.
        delegation = {**delegation, "valid_until": valid_until.isoformat(),
                      "offline_access": bool(delegation.get("offline_access"))}
        entries = [e for e in entries if e["resource"] != delegation["resource"]]
        entries.append(delegation)
    record = ConsentRecord(
        event_type=EXTENDED if previous else GIVEN,
        previous_record_id=previous.record_id if previous else None,
        user_id=user.id, sub=subject_for(user, client), client_id=client.client_id,
        controller=controller_of(client), policy_uri=client.policy_uri, tos_uri=client.tos_uri,
        scopes_granted=scopes, claims_granted=claims, scopes_refused=refused,
        purposes=purposes, language=language,
        consent_type="explicit" if special else "regular",
        acr=login.acr if login else None, amr=list(login.amr) if login else [],
        auth_time=login.auth_time if login else None,
        **assisted_fields(assistance),
        # Special-category data: never longer than 12 months (shared/SCOPES.md).
        valid_until=valid_until,
        withdrawal_method=withdrawal_url(),
        delegations=entries,
    )
    if delegation is None:
        return _add(record, assistance)
    return _add(record, assistance, extra={"delegation": delegation_summary(delegation)})


def assisted_fields(assistance: Assistance | None) -> dict[str, Any]:
    """How the consent was collected: on the web by the traveller, or with an advisor's
    help, named by their pseudonymous id only (the record goes to the platform too)."""
    if assistance is None:
        return {"collection_method": "web"}
    return {"collection_method": assistance.method, "helper_id": assistance.advisor_id,
            "mandate_id": assistance.mandate_id}


def follow(previous: ConsentRecord, event_type: str, scopes: list[str],
           claims: list[str], *, delegations: list[dict[str, Any]] | None = None,
           event: str | None = None, extra: dict[str, Any] | None = None) -> ConsentRecord:
    """A record that ends or narrows ``previous``, copying what it does not change. An
    ended consent ends its delegations; a narrowed one keeps them unless told."""
    if delegations is None:
        delegations = list(previous.delegations or []) if scopes else []
    record = ConsentRecord(
        event_type=event_type, previous_record_id=previous.record_id,
        user_id=previous.user_id, sub=previous.sub, client_id=previous.client_id,
        controller=previous.controller, policy_uri=previous.policy_uri,
        tos_uri=previous.tos_uri, scopes_granted=scopes, claims_granted=claims,
        scopes_refused=sorted(set(previous.scopes_refused)
                              | (set(previous.scopes_granted) - set(scopes))),
        purposes=previous.purposes, language=previous.language,
        consent_type=previous.consent_type, acr=previous.acr, amr=previous.amr,
        auth_time=previous.auth_time, valid_until=previous.valid_until if scopes else None,
        withdrawal_method=previous.withdrawal_method, delegations=delegations,
    )
    return _add(record, event=event, extra=extra)


def withdraw(user: User, client_id: str) -> ConsentRecord | None:
    """Revoke a platform: consent withdrawn and every token revoked, in one transaction
    that the caller commits. Returns None when nothing was in force."""
    previous = current(user.id, client_id)
    if previous is None:
        return None
    record = follow(previous, WITHDRAWN, [], [])
    revoke_tokens(user.id, client_id)
    return record


def narrow(user: User, client_id: str, scope: str) -> ConsentRecord | None:
    """Withdraw one scope; the platform keeps the rest. Userinfo checks the consent in
    force at every call, so the scope's claims stop flowing at once."""
    previous = current(user.id, client_id)
    if previous is None or scope not in previous.scopes_granted or scope == "openid":
        return None
    scopes = [s for s in previous.scopes_granted if s != scope]
    dropped = set(claims_for_scopes([scope])) - set(claims_for_scopes(scopes))
    claims = [c for c in previous.claims_granted if c not in dropped]
    if scope == "offline_access":
        revoke_tokens(user.id, client_id)  # no refresh token may outlive its scope
    return follow(previous, NARROWED, scopes, claims)


def _add(record: ConsentRecord, assistance: Assistance | None = None,
         event: str | None = None, extra: dict[str, Any] | None = None) -> ConsentRecord:
    """Store the record with its audit event; one given with help also gets an
    ``assisted:consent_given`` event, so that every assisted act has a typed event.
    A record that gives a delegation also gets ``delegation:granted`` (issue 14); one
    that stops it is told so by ``event`` (``delegation:stopped``)."""
    db.session.add(record)
    db.session.flush()
    user = db.session.get(User, record.user_id)
    helped = assistance.audit_data() if assistance else {}
    audit.record(event or AUDIT_EVENTS[record.event_type], user=user,
                 client_id=record.client_id,
                 data={"record_id": record.record_id, "scopes": record.scopes_granted,
                       "refused": record.scopes_refused, "purposes": record.purposes,
                       **helped, **((extra or {}) if event else {})})
    if extra and event is None:
        audit.record(audit.DELEGATION_GRANTED, user=user, client_id=record.client_id,
                     data={"record_id": record.record_id, **extra["delegation"]})
    if assistance is not None:
        audit.record(audit.ASSISTED_CONSENT_GIVEN, user=user, client_id=record.client_id,
                     data={"record_id": record.record_id, **helped})
    return record


def delegation_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """A delegation as audit events carry it: who acts on what, never a personal value
    (the resource platform's `sub` stays in the record)."""
    return {"resource": entry["resource"], "resource_client_id": entry["resource_client_id"],
            "actions": entry["actions"], "claims": entry["claims"],
            "valid_until": entry.get("valid_until"),
            "offline_access": bool(entry.get("offline_access"))}


def controller_of(client: Client) -> dict[str, Any]:
    return {"name": client.client_name, "contacts": list(client.contacts),
            "client_uri": client.client_uri}


def withdrawal_url() -> str:
    return f"{current_app.extensions['idp.settings'].issuer}/account/platforms"


def released_claims(user: User, client: Client, in_force: InForce | None = None) -> set[str]:
    """What the platform may read now. ``in_force`` is the newest record's
    (event_type, valid_until, claims_granted) as :func:`join_in_force` read them with the
    token; only a consent found outdated needs :func:`current` (which records its end)."""
    if in_force is not None:
        released = released_in_force(in_force)
        if released is not None:
            return released
    record = current(user.id, client.client_id)
    return {"sub", *record.claims_granted} if record else set()


def released_in_force(in_force: InForce) -> set[str] | None:
    """What the platform may read now, from the columns :func:`join_in_force` read; None
    for a consent that has just lapsed (only :func:`current` may say so: it records the
    end)."""
    event_type, valid_until, claims = in_force
    if event_type is None or event_type in ENDED:
        return set()
    if valid_until is None or valid_until > utcnow():
        return {"sub", *claims}
    return None


def join_in_force(query: Select[Any]) -> Select[Any]:
    """The newest record of the token's traveller and platform, joined to a query over
    Token by its id (the newest id found in ix_consent_record_pair), its three columns
    added last: userinfo reads token and consent in one round trip."""
    record, onclause = _in_force_join()
    return query.outerjoin(record, onclause).add_columns(
        record.event_type, record.valid_until, record.claims_granted)


@cache
def _in_force_join() -> tuple[Any, sa.ColumnElement[bool]]:
    """Built once: an alias made at every call cost 28 columns' proxies per request
    (and a statement never found in SQLAlchemy's compiled cache)."""
    newest = (sa.select(sa.func.max(ConsentRecord.id))
              .where(ConsentRecord.user_id == Token.user_id,
                     ConsentRecord.client_id == Token.client_id)
              .correlate(Token).scalar_subquery())
    record = aliased(ConsentRecord, name="in_force")
    return record, record.id == newest
