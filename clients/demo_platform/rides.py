"""The regional platform's pages about its partner's rides (issue 14): the rides on
Covoiturage national, and booking one for the traveller with their usual meeting point,
both through token exchange. Plain forms, no JavaScript."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from clients.demo_platform.exchange import PartnerError, call, partner
from clients.demo_platform.views import current_session, page, require_csrf

bp = Blueprint("rides", __name__)


def refused(error: PartnerError) -> ResponseReturnValue:
    """A plain page saying what happened and what to do; never the provider's words."""
    current_app.logger.info("partner API not used: %s", error.reason)
    status = {"stopped": 403, "session": 401, "gone": 409}.get(error.reason, 502)
    return page("partner_error.html", status, reason=error.reason, partner=partner())


@bp.get("/rides")
def listing() -> ResponseReturnValue:
    local = current_session()
    if local is None:
        flash(f"Connectez-vous pour voir les trajets de {partner().name}.")
        return redirect(url_for("platform.home"))
    try:
        found = call(local, "trips:search", "GET", "/trips")["trips"]
    except PartnerError as error:
        return refused(error)
    return page("rides.html", trips=found, partner=partner())


@bp.post("/rides/book")
def book() -> ResponseReturnValue:
    """Book a seat for the traveller, meeting where they usually do (our own data)."""
    require_csrf()
    local = current_session()
    if local is None:
        return redirect(url_for("platform.home"))
    trip_id = request.form.get("trip_id", "")[:50]
    try:
        booking = call(local, "bookings:create", "POST", "/bookings",
                       json={"trip_id": trip_id, "meeting_point": partner().meeting_point})
    except PartnerError as error:
        return refused(error)
    session["booked"] = booking  # shown once, after the redirect
    return redirect(url_for(".booked"))


@bp.get("/rides/booked")
def booked() -> ResponseReturnValue:
    booking = session.pop("booked", None)
    if booking is None or current_session() is None:
        return redirect(url_for(".listing"))
    return page("booked.html", booking=booking, partner=partner())
