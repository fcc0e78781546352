"""The traveller's rights: a copy of their data (GDPR Art. 15 and 20) and erasure
(Art. 17), which keeps only a pseudonymous audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import InputRequired, Length

from consent import audit, records
from consent.glossary import GLOSSARY
from consent.helped import assisted_actions, mandate_words, mandates_of
from consent.models import current_by_client, history
from consent.platforms import EVENT_LABELS, traveller
from consent.scopes import describe
from idp.accounts import mfa, throttle
from idp.accounts.login import forget_login
from idp.accounts.models import BrowserSession, User
from idp.accounts.passwords import verify_password
from idp.extensions import db, utcnow
from idp.oauth.backchannel import notify_logout
from idp.oauth.models import Client, Token
from idp.oauth.revocation import revoke_tokens

bp = Blueprint("rights", __name__, url_prefix="/account")

PROFILE = ("subject", "email", "email_verified", "given_name", "family_name", "nickname",
           "picture", "gender", "birthdate", "locale", "phone_number", "phone_number_verified",
           "street_address", "postal_code", "locality", "country", "mobility", "created_at",
           "updated_at")


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Your password, to confirm it is you"),
        validators=[InputRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


def plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def data_of(user: User) -> dict[str, Any]:
    """Everything we hold about the traveller; metadata of secrets, never the secrets."""
    sessions = db.session.scalars(db.select(BrowserSession).where(
        BrowserSession.user_id == user.id))
    tokens = db.session.scalars(db.select(Token).where(Token.user_id == user.id))
    events = list(audit.export(audit.subject_pseudonym(user)))
    return {
        "exported_at": utcnow().isoformat(),
        "profile": {name: plain(getattr(user, name)) for name in PROFILE},
        "consents": [r.as_receipt() for r in history(user.id)],
        "sessions": [{"created_at": plain(s.created_at), "last_seen_at": plain(s.last_seen_at),
                      "expires_at": plain(s.expires_at), "device": s.user_agent,
                      "network": s.ip_prefix, "methods": s.amr} for s in sessions],
        "two_step_verification": two_step_of(user),
        "tokens": [{"platform": t.client_id, "scope": t.scope, "issued_at": plain(t.issued_at),
                    "expires_at": plain(t.expires_at), "revoked_at": plain(t.revoked_at),
                    "refreshable": t.refresh_token_hash is not None} for t in tokens],
        "history": events,
        # Assisted access (issue 12): who may act for the traveller, and what they did.
        "mandates": [mandate_words(m) for m in mandates_of(user.id)],
        "assisted_actions": assisted_actions(events),
    }


def two_step_of(user: User) -> dict[str, Any]:
    """Whether two-step verification is on, since when, how many recovery codes are left:
    never the secret or the codes."""
    credential = mfa.query_credential(user)
    enabled = credential is not None and credential.confirmed_at is not None
    return {"enabled": enabled,
            "enabled_at": plain(credential.confirmed_at) if enabled and credential else None,
            "recovery_codes_left": mfa.count_recovery_codes(user) if enabled else 0}


@bp.route("/data")
def readable() -> ResponseReturnValue:
    """The same copy as the download, by topic and in the traveller's language, with
    every key of the file explained (GDPR Art. 12(1) and 15)."""
    user = traveller()
    data = data_of(user)
    names = {r["client_id"]: r["controller"].get("name") for r in data["consents"]}
    names |= platform_names(p for m in data["mandates"] for p in m["platforms"])
    return render_template("consent/data.html", data=data, user=user, names=names,
                           glossary=GLOSSARY, event_labels=EVENT_LABELS,
                           describe=describe, agreement_events=records.AUDIT_EVENTS)


def platform_names(client_ids: Iterable[str]) -> dict[str, str]:
    """The names of registered platforms, for those a mandate names."""
    wanted = set(client_ids)
    if not wanted:
        return {}
    rows = db.session.execute(db.select(Client.client_id, Client.client_name)
                              .where(Client.client_id.in_(wanted)))
    return {client_id: name for client_id, name in rows}


@bp.route("/export")
def export() -> ResponseReturnValue:
    user = traveller()
    body = json.dumps(data_of(user), ensure_ascii=False, indent=1)
    audit.record(audit.DATA_EXPORTED, user=user)
    db.session.commit()
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="mobility-id-data.json"'})


@bp.route("/delete", methods=["GET", "POST"])
def delete() -> ResponseReturnValue:
    user = traveller()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        typed = form.password.data or ""
        # Throttled like a login: a session left open is no licence to guess.
        outcome = throttle.attempt("password", user.email,
                                   lambda: verify_password(user.password_hash, typed))
        if outcome.ok:
            erase(user)
            forget_login()
            flash(_l("Your account is deleted. We kept no personal data."), "success")
            return redirect(url_for("accounts.home"))
        form.password.errors.append(outcome.refusal or str(_l("This is not your password.")))
    status = 400 if request.method == "POST" else 200
    return render_template("consent/delete.html", form=form, user=user), status


def erase(user: User) -> None:
    """One transaction: every consent withdrawn, every token revoked, the platforms told,
    the deletion logged under a pseudonym, then the profile and its rows erased."""
    notify_logout(user, reason="account_deleted")
    for client_id in current_by_client(user.id):
        records.withdraw(user, client_id)
    revoke_tokens(user.id)
    audit.record(audit.ACCOUNT_DELETED, user=user)
    db.session.delete(user)
    db.session.commit()
