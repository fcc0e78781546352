"""The national platform's API (issue 14): its rides, and bookings made by a platform
acting for a traveller with their consent. JSON only, protected by Mobility ID tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from clients.demo_platform import trips
from clients.demo_platform.app import platform
from clients.demo_platform.bearer import BearerError, authorize

bp = Blueprint("api", __name__, url_prefix="/api")
NO_STORE = {"Cache-Control": "no-store"}
MAX_MEETING_POINT = 200


@bp.errorhandler(BearerError)
def refused(error: BearerError) -> ResponseReturnValue:
    headers = dict(NO_STORE)
    if error.status in (401, 403):
        headers["WWW-Authenticate"] = error.challenge()
    # RFC 6750 3.1: no error code, nor anything else, when no token came at all.
    body = {"error": error.error, "error_description": error.description} if error.error else {}
    return jsonify(body), error.status, headers


@bp.get("/trips")
def search() -> ResponseReturnValue:
    authorize("trips:search")
    found = trips.search(request.args.get("from"), request.args.get("to"))
    return jsonify(trips=[trip.as_json() for trip in found]), 200, NO_STORE


@bp.post("/bookings")
def book() -> ResponseReturnValue:
    """A seat on a ride, for the traveller the token names by our own `sub`, with the
    meeting point the booking platform gave."""
    claims = authorize("bookings:create")
    data: dict[str, Any] = request.get_json(silent=True) or {}
    trip = trips.find(data.get("trip_id"))
    meeting_point = data.get("meeting_point") or ""
    if trip is None or not isinstance(meeting_point, str) or \
            len(meeting_point) > MAX_MEETING_POINT:
        return jsonify(error="invalid_request", error_description="A known trip_id, and a "
                       "meeting_point of at most 200 characters."), 400, NO_STORE
    actor = (claims.get("act") or {}).get("sub")
    booking = platform().bookings.add(
        trips.Booking(trip, str(claims["sub"]), actor, meeting_point.strip()))
    current_app.logger.info("booking %s made by %s", booking.id, actor or "the traveller")
    return jsonify(booking.as_json()), 201, NO_STORE
