"""Assisted acts in words, for the traveller (issue 12, assisted access): who helped, at
which centre, how (in person or on the phone) and under which mandate, on the proof of an
agreement, in the history and in the copy of their data.

Records and audit events keep only the advisor's pseudonymous id; the name and centre are
looked up when shown (idp.advisors.access.describe), so an advisor who left reads as "an
advisor who no longer works here". Each advisor and mandate is looked up once a request."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask, g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consent.assisted import IN_PERSON, PHONE
from idp.advisors.access import describe
from idp.advisors.models import Mandate
from idp.advisors.service import ACTION_WORDS, METHOD_WORDS
from idp.extensions import db
from idp.times import local_date

HOW = {IN_PERSON: _l("in person"), PHONE: _l("on the phone")}


def helper(advisor_id: str) -> tuple[str, str] | None:
    """(name, centre) of an advisor, None once unknown; looked up once a request."""
    known: dict[str, tuple[str, str] | None] = g.setdefault("consent_helpers", {})
    if advisor_id not in known:
        known[advisor_id] = describe(advisor_id)
    return known[advisor_id]


def query_mandate(mandate_id: str) -> Mandate | None:
    found: dict[str, Mandate | None] = g.setdefault("consent_mandates", {})
    if mandate_id not in found:
        found[mandate_id] = db.session.scalar(
            db.select(Mandate).where(Mandate.mandate_id == mandate_id))
    return found[mandate_id]


def done_by(event: Mapping[str, Any]) -> str | None:
    """The words a history entry gets when an advisor took part: done on the traveller's
    behalf, or, for a mandate's own life, who the advisor is. None for the traveller's
    own acts."""
    data = event.get("data") or {}
    advisor_id = data.get("advisor_id")
    if not isinstance(advisor_id, str):
        return None
    known = helper(advisor_id)
    if str(event.get("event_type", "")).startswith("mandate:"):
        if known is None:
            return _("The advisor no longer works here.")
        return _("The advisor is %(advisor)s, at %(centre)s.", advisor=known[0],
                 centre=known[1])
    if known is None:
        return _("Done by an advisor who no longer works here, on your behalf.")
    return _("Done by %(advisor)s at %(centre)s on your behalf.", advisor=known[0],
             centre=known[1])


def given_with(record: Any) -> str | None:
    """How an agreement was given with help, in one sentence: "Given with the help of
    <name>, <centre>, on the phone, under the mandate of <date>". ``record``: a
    ConsentRecord or its receipt dict. None when the traveller gave it alone."""
    fields = record if isinstance(record, Mapping) else record.as_receipt()
    how = HOW.get(fields.get("collection_method") or "")
    if how is None or not fields.get("helper_id"):
        return None
    known = helper(fields["helper_id"])
    mandate = query_mandate(fields["mandate_id"]) if fields.get("mandate_id") else None
    words = {"how": how, "advisor": known[0] if known else "",
             "centre": known[1] if known else ""}
    if mandate is not None and mandate.confirmed_at is not None:
        words["date"] = local_date(mandate.confirmed_at)
        if known is None:
            return _("Given with the help of an advisor who no longer works here, %(how)s, "
                     "under the mandate of %(date)s.", **words)
        return _("Given with the help of %(advisor)s, %(centre)s, %(how)s, under the "
                 "mandate of %(date)s.", **words)
    if known is None:
        return _("Given with the help of an advisor who no longer works here, %(how)s.",
                 **words)
    return _("Given with the help of %(advisor)s, %(centre)s, %(how)s.", **words)


def mandate_words(mandate: Mandate) -> dict[str, Any]:
    """A mandate as the copy of the traveller's data gives it: plain values, the
    advisor named (it is the traveller's own copy), or None once unknown."""
    known = helper(mandate.advisor.public_id)
    return {"mandate_id": mandate.mandate_id, "advisor": known[0] if known else None,
            "centre": known[1] if known else None, "actions": list(mandate.actions),
            "platforms": list(mandate.platforms), "method": mandate.method,
            "confirmation": mandate.confirmation, "created_at": iso(mandate.created_at),
            "confirmed_at": iso(mandate.confirmed_at), "expires_at": iso(mandate.expires_at),
            "stopped_at": iso(mandate.revoked_at), "stopped_by": mandate.revoked_by}


def mandates_of(user_id: int) -> list[Mandate]:
    """Every mandate the traveller gave, in force or not, oldest first."""
    return list(db.session.scalars(
        db.select(Mandate).where(Mandate.user_id == user_id).order_by(Mandate.id)))


def assisted_actions(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history's events an advisor took part in, with the advisor named."""
    actions = []
    for event in history:
        data = event.get("data") or {}
        if not isinstance(data.get("advisor_id"), str):
            continue
        known = helper(data["advisor_id"])
        actions.append({"event_type": event["event_type"], "occurred_at": event["occurred_at"],
                        "client_id": event["client_id"], "advisor": known[0] if known else None,
                        "centre": known[1] if known else None,
                        "mandate_id": data.get("mandate_id"), "method": data.get("method")})
    return actions


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(done_by=done_by, given_with=given_with,
                                 mandate_actions=ACTION_WORDS, how_helped=METHOD_WORDS)
