"""The national demo platform's rides, a few between Nouvelle-Aquitaine and Auvergne, and
the bookings made on them, kept in this process's memory like its sessions."""

from __future__ import annotations

import secrets
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Trip:
    id: str
    origin: str
    destination: str
    days_ahead: int  # the demo's rides always leave in the coming days
    departs_at: str
    driver: str
    seats: int
    price_eur: int

    def as_json(self) -> dict[str, Any]:
        day = date.today() + timedelta(days=self.days_ahead)
        return {"id": self.id, "from": self.origin, "to": self.destination,
                "date": day.isoformat(), "departs_at": self.departs_at,
                "driver": self.driver, "seats": self.seats, "price_eur": self.price_eur}


TRIPS = (
    Trip("ang-cfe", "Angoulême", "Clermont-Ferrand", 2, "07:30", "Sophie M.", 3, 24),
    Trip("lim-cfe", "Limoges", "Clermont-Ferrand", 1, "08:00", "Karim B.", 2, 18),
    Trip("poi-ang", "Poitiers", "Angoulême", 1, "17:45", "Claire D.", 1, 8),
    Trip("bdx-lim", "Bordeaux", "Limoges", 3, "09:15", "Jean-Luc P.", 3, 17),
    Trip("cfe-vic", "Clermont-Ferrand", "Vichy", 2, "18:30", "Inès R.", 2, 6),
    Trip("cfe-ang", "Clermont-Ferrand", "Angoulême", 3, "16:00", "Sophie M.", 3, 24),
)


def plain(name: str) -> str:
    """A town's name as people type it: any case, with or without accents."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search(origin: str | None = None, destination: str | None = None) -> list[Trip]:
    return [trip for trip in TRIPS
            if (not origin or plain(trip.origin) == plain(origin))
            and (not destination or plain(trip.destination) == plain(destination))]


def find(trip_id: Any) -> Trip | None:
    return next((trip for trip in TRIPS if trip.id == trip_id), None)


@dataclass(frozen=True)
class Booking:
    """A seat booked for a traveller, known here by this platform's own `sub`; ``actor``
    is the platform that booked it for them, if another did."""

    trip: Trip
    sub: str
    actor: str | None
    meeting_point: str
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    booked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "trip": self.trip.as_json(), "meeting_point": self.meeting_point,
                "booked_by": self.actor, "booked_at": self.booked_at.isoformat()}


class BookingStore:
    """Thread-safe: the platform serves its API and its pages in threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bookings: list[Booking] = []

    def add(self, booking: Booking) -> Booking:
        with self._lock:
            self._bookings.append(booking)
        return booking

    def of(self, sub: str) -> list[Booking]:
        with self._lock:
            return [booking for booking in self._bookings if booking.sub == sub]
