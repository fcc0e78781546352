"""One time zone for every page (issue 12, item 9): the ``localtime`` filter shows a UTC
instant in IDP_TIMEZONE, names the zone in the page's language, and every template goes
through it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from idp import create_app
from idp.times import localtime
from tests import conftest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SUMMER = datetime(2027, 7, 1, 16, 4, tzinfo=UTC)  # 18:04 in Paris (UTC+2)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "July 1, 2027 at 18:04, Paris time"),
    ("fr", "1 juillet 2027"),
])
def test_a_moment_is_shown_in_paris_time_with_the_zone_named(
        app: Flask, language: str, text: str) -> None:
    with app.test_request_context(headers={"Accept-Language": language}):
        shown = str(localtime(SUMMER))
        hour = str(localtime(SUMMER, "time"))
    assert text in shown
    assert shown.startswith('<time datetime="2027-07-01T16:04:00+00:00">')
    assert hour.startswith('<time') and ("18:04" if language == "en" else "18 h 04") in hour


def test_the_audit_log_s_strings_and_naive_values_are_read_as_utc(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert "18:04, Paris time" in localtime("2027-07-01T16:04:00.000000+00:00", "time")
        assert "18:04, Paris time" in localtime("2027-07-01T16:04:00", "time")
        assert localtime(None) == ""


def test_another_deployment_shows_its_own_zone(database_url: str) -> None:
    app = create_app(settings=conftest.test_settings(database_url, timezone="Indian/Reunion"),
                     config=conftest.TEST_CONFIG)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert "20:04, Réunion time" in localtime(SUMMER, "time")


def test_no_template_prints_a_time_but_through_localtime() -> None:
    """A template that formats a date itself would bring back a second time zone."""
    pattern = re.compile(r"\b(dateformat|datetimeformat|timeformat|strftime|isoformat)\b|"
                         r"occurred_at\[")
    offenders = [f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
                 for path in TEMPLATES.rglob("*.*") for match in
                 pattern.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []
