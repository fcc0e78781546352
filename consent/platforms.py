"""“My platforms”: every platform the traveller allowed, what it may read, when it last
did, and a Revoke button that takes no more steps than Allow did (GDPR Art. 7(3)).
A platform acting on another's API for the traveller (issue 14) appears under both, with
a Stop button as easy."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from consent import audit, records
from consent.delegations import InForce, all_in_force, stop_delegation
from consent.models import current_by_client, history, latest
from consent.receipts import receipt_filename, sign_receipt
from consent.scopes import describe
from idp.accounts.forms import ConfirmForm
from idp.accounts.login import require_login
from idp.accounts.models import User
from idp.extensions import db
from idp.oauth.backchannel import notify_logout
from idp.oauth.models import Client
from idp.oauth.revocation import last_use

bp = Blueprint("platforms", __name__, url_prefix="/account/platforms")

EVENT_LABELS = {
    "consent:granted": _l("You allowed a platform"),
    "consent:scope_added": _l("You shared more with a platform"),
    "consent:scope_withdrawn": _l("You stopped sharing something with a platform"),
    "consent:revoked": _l("You stopped sharing with a platform"),
    "consent:expired": _l("An agreement expired"),
    "receipt:issued": _l("You downloaded a proof of agreement"),
    "data:exported": _l("You downloaded your data"),
    "backchannel:attempt": _l("A platform was told you left"),
    "delegation:granted": _l("You let a platform act for you on another"),
    "delegation:stopped": _l("You stopped a platform acting for you on another"),
    "security_event:attempt": _l("A platform was told of a change"),
    "account:password_changed": _l("You changed your password"),
    # By a link mailed or a code texted: the event's data says which (method).
    "account:password_reset": _l("You chose a new password after forgetting it"),
    "account:email_changed": _l("You changed your email address"),
    "account:email_verified": _l("You confirmed your email address"),
    "account:phone_changed": _l("You changed your phone number"),
    "account:phone_verified": _l("You verified your phone number with a code"),
    "account:two_step_enabled": _l("You turned on two-step verification"),
    "account:two_step_disabled": _l("You turned off two-step verification"),
    "account:recovery_codes_renewed": _l("You made new recovery codes"),
    "account:sessions_ended": _l("You signed out other devices"),
    # Assisted access (issue 12): the history adds who did it (consent.helped.done_by).
    "mandate:granted": _l("You allowed an advisor to help you"),
    "mandate:revoked": _l("The help of an advisor was stopped"),
    "mandate:expired": _l("The help of an advisor ended"),
    "assisted:account_created": _l("Your account was created"),
    "assisted:consent_given": _l("Your agreement was given to a platform"),
    "assisted:details_updated": _l("Your travel details were changed"),
    "assisted:history_read": _l("Your history was read"),
}


def traveller() -> User:
    return require_login().user


@bp.route("")
def index() -> ResponseReturnValue:
    user = traveller()
    return render_template("consent/platforms.html", form=ConfirmForm(), user=user,
                           **overview(user))


def overview(user: User) -> dict[str, Any]:
    """What "My platforms" shows: each platform allowed, and the latest history. An
    advisor allowed to read the history sees the same (consent.advisor_history)."""
    consents = [r for r in current_by_client(user.id).values() if r.active]
    clients = {c.client_id: c for c in db.session.scalars(
        db.select(Client).where(Client.client_id.in_([r.client_id for r in consents])))}
    used = last_use(user.id)
    delegations = all_in_force(consents)
    rows = [
        {"record": r, "client": clients.get(r.client_id), "last_use": used.get(r.client_id),
         "scopes": [describe(s) for s in r.scopes_granted if s != "openid"],
         "optional": [s for s in r.scopes_granted if s != "openid"
                      and not required(clients.get(r.client_id), s)],
         "delegations": [d for d in delegations if d.involves(r.client_id)]}
        for r in sorted(consents, key=lambda r: r.event_time, reverse=True)
    ]
    events = list(audit.export(audit.subject_pseudonym(user)))[-50:]
    names = {r.client_id: r.controller.get("name") for r in history(user.id)}
    return {"rows": rows, "acted_on": acted_on(delegations, {r.client_id for r in consents}),
            "events": list(reversed(events)), "names": names, "event_labels": EVENT_LABELS}


def acted_on(delegations: list[InForce], allowed: set[str]) -> list[dict[str, Any]]:
    """The platforms another acts on for the traveller, that have no consent of their
    own: each still gets its section, so that the delegation shows under both."""
    others: dict[str, dict[str, Any]] = {}
    for d in delegations:
        if d.resource_client_id not in allowed:
            others.setdefault(d.resource_client_id, {"name": d.platform, "delegations": []})
            others[d.resource_client_id]["delegations"].append(d)
    return list(others.values())


def required(client: Client | None, scope: str) -> bool:
    from consent.screen import is_required

    return client is not None and is_required(client, scope)


@bp.route("/<client_id>/revoke", methods=["POST"])
def revoke(client_id: str) -> ResponseReturnValue:
    user = traveller()
    record = records.withdraw(user, client_id)
    if record is None:
        abort(404)
    notify_platform(user, client_id)
    db.session.commit()
    flash(_l("Done. %(platform)s can no longer see your information.",
             platform=record.controller.get("name", client_id)), "success")
    return redirect(url_for("platforms.index"))


@bp.route("/<client_id>/scopes/<scope>/withdraw", methods=["POST"])
def withdraw_scope(client_id: str, scope: str) -> ResponseReturnValue:
    user = traveller()
    client = db.session.scalar(db.select(Client).where(Client.client_id == client_id))
    if required(client, scope) or records.narrow(user, client_id, scope) is None:
        abort(404)
    db.session.commit()
    flash(_l("Done. This platform no longer sees: %(scope)s.", scope=describe(scope).title),
          "success")
    return redirect(url_for("platforms.index"))


@bp.route("/<client_id>/delegations/stop", methods=["POST"])
def stop(client_id: str) -> ResponseReturnValue:
    """Stop ``client_id`` acting on the resource named in the form: one click, as Allow."""
    user = traveller()
    resource = request.form.get("resource", "")
    record = records.current(user.id, client_id)
    shown = next((d for d in all_in_force([record] if record else [])
                  if d.resource == resource), None)
    if shown is None or stop_delegation(user, client_id, resource) is None:
        abort(404)
    db.session.commit()
    flash(_l("Done. %(actor)s can no longer %(actions)s on %(platform)s for you.",
             actor=shown.actor, actions=shown.actions, platform=shown.platform), "success")
    return redirect(url_for("platforms.index"))


@bp.route("/<client_id>/receipt")
def receipt(client_id: str) -> ResponseReturnValue:
    user = traveller()
    record = latest(user.id, client_id)
    if record is None:
        abort(404)
    token = sign_receipt(record)
    audit.record(audit.RECEIPT_ISSUED, user=user, client_id=client_id,
                 data={"record_id": record.record_id})
    db.session.commit()
    return Response(token, mimetype="application/jose", headers={
        "Content-Disposition": f'attachment; filename="{receipt_filename(record)}"'})


def notify_platform(user: User, client_id: str) -> None:
    """Tell the platform, through back-channel logout, that it lost the traveller."""
    notify_logout(user, client_ids=[client_id], reason="consent_revoked")
