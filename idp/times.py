"""Times as a traveller reads them: every page shows a moment in one time zone, the
settings' IDP_TIMEZONE (Europe/Paris by default), and names the zone where an hour is
shown ("18:04, Paris time", "18 h 04, heure de Paris"). Stored times stay UTC
(STYLE.md); only what is printed moves. One filter, ``localtime``, for every template."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_location
from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

# CLDR's short time is "HH:mm" in French too; French typography writes "18 h 04".
TIME_PATTERNS = {"fr": "H' h 'mm"}
DEFAULT_TIME_PATTERN = "HH:mm"


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.extensions["idp.settings"].timezone)


def moment(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or an ISO 8601 string (the audit log's
    ``occurred_at``). A naive value is taken as UTC, as the database stores it."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def zone_name() -> str:
    """The zone as people say it: its main city, in the page's language ("Paris")."""
    return str(get_timezone_location(zone(), locale=str(get_locale()), return_city=True))


def local_date(value: datetime | str) -> str:
    """The day, in the settings' time zone: "6 December 2026", "6 décembre 2026"."""
    return str(format_date(moment(value).astimezone(zone()), "long", locale=str(get_locale())))


def local_time(value: datetime | str) -> str:
    """The hour with the zone named: "18:04, Paris time", "18 h 04, heure de Paris"."""
    locale = str(get_locale())
    pattern = TIME_PATTERNS.get(locale.split("_")[0], DEFAULT_TIME_PATTERN)
    hour = format_time(moment(value).astimezone(zone()), pattern, locale=locale)
    return _("%(time)s, %(zone)s time", time=hour, zone=zone_name())


def local_datetime(value: datetime | str) -> str:
    return _("%(date)s at %(time)s", date=local_date(value), time=local_time(value))


def localtime(value: datetime | str | None, part: str = "datetime") -> Markup:
    """A ``<time>`` element: the UTC instant for machines, the local text for people.
    ``part`` is "datetime" (day and hour), "date" or "time"."""
    if value is None:
        return Markup("")
    text = {"date": local_date, "time": local_time}.get(part, local_datetime)(value)
    stamp = moment(value).astimezone(UTC).isoformat(timespec="seconds")
    return Markup('<time datetime="{}">{}</time>').format(stamp, escape(text))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
