"""Issue 14's story end to end in a real browser, with the two demo platforms of ``idp
demo`` over real HTTP: Umberto logs in on his regional carpool site and lets it book for
him on the national one; he sees the Angoulême to Clermont-Ferrand ride there, books it,
and finds the booking on the national site under its own `sub`, with his usual meeting
point. Then he stops it on Mobility ID's "My platforms", in one click: the provider tells
both sites (a security event each, pushed by its outbox after the commit), and each says
so to him. The new pages have no serious accessibility violation (axe-core)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from clients.demo import MEETING_POINT, NATIONAL, REGIONAL
from clients.demo_platform.events import StoppedDelegation
from clients.demo_platform.serve import RunningPlatform
from tests.browser_real.conftest import new_context
from tests.browser_real.test_demo_platforms import consent_heading, serious_violations
from tests.clients.test_demo_platform import (  # noqa: F401  (fixtures)
    LOGIN_BUTTON,
    platforms,
    umberto,
)
from tests.live import LiveServer, LiveTraveller

DELEGATION = ("Covoiturage régional may search rides and book seats on Covoiturage national "
              "for you.")
RIDE = "Angoulême → Clermont-Ferrand"
STOP = ("Stop (Covoiturage régional can search rides and book seats on Covoiturage national "
        "for you.)")
OUTBOX_WAIT = 10  # seconds: a local delivery takes milliseconds


def test_umberto_books_a_national_ride_from_his_regional_site(
    chromium: Browser, live_server: LiveServer, platforms: dict[str, RunningPlatform],
    umberto: LiveTraveller, tmp_path: Path,
) -> None:
    regional = platforms[REGIONAL.client_id].config.origin
    national = platforms[NATIONAL.client_id].config.origin
    live_server.app.config["OUTBOX_WORKER"] = True  # off by default in tests
    context = new_context(chromium, live_server)
    try:
        page = context.new_page()
        violations = book_from_regional(page, umberto, regional, tmp_path)
        violations += find_it_on_national(page, national, tmp_path)
        stop_on_my_platforms(page, live_server)
        violations += see_it_said_on_both_sites(page, regional, national, tmp_path)
    finally:
        context.close()
    assert violations == []

    # Booked under the national platform's own pairwise sub for him, by the regional one.
    national_sub = live_server.subject_for(umberto, NATIONAL.client_id)
    assert national_sub != live_server.subject_for(umberto, REGIONAL.client_id)
    state = platforms[NATIONAL.client_id].app.extensions["demo_platform"]
    [booking] = state.bookings.of(national_sub)
    assert (booking.trip.origin, booking.trip.destination) == ("Angoulême", "Clermont-Ferrand")
    assert (booking.actor, booking.meeting_point) == (REGIONAL.client_id, MEETING_POINT)
    [local] = state.sessions._sessions.values()
    assert local.sub == national_sub


def book_from_regional(page: Page, umberto: LiveTraveller, regional: str,
                       tmp_path: Path) -> list[str]:
    page.goto(regional + "/")
    page.get_by_role("link", name=LOGIN_BUTTON).click()
    page.get_by_label("Email address").fill(umberto.email)
    page.get_by_label("Password", exact=True).fill(umberto.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        consent_heading("Covoiturage régional"))
    expect(page.locator("#delegation-what")).to_have_text(DELEGATION)
    delegation = page.get_by_role("checkbox", name=DELEGATION)
    expect(delegation).not_to_be_checked()  # its own choice, never ticked in advance
    delegation.check()
    seen = page.get_by_role("group", name="What Covoiturage national will see")
    seen.get_by_role("checkbox", name=re.compile("Alias")).check()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(regional + "/profile")

    page.get_by_role("link", name="Voir les trajets sur Covoiturage national").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trajets sur Covoiturage national")
    expect(page.get_by_text(MEETING_POINT)).to_be_visible()
    violations = serious_violations(page, tmp_path, "rides")
    page.get_by_role("button", name=f"Réserver {RIDE}", exact=True).click()

    page.wait_for_url(regional + "/rides/booked")
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre place est réservée")
    expect(page.get_by_role("main")).to_contain_text(RIDE)
    expect(page.get_by_role("main")).to_contain_text(MEETING_POINT)
    expect(page.get_by_role("main")).not_to_contain_text("..")  # "avec Sophie M.." once
    return violations + serious_violations(page, tmp_path, "booked")


def find_it_on_national(page: Page, national: str, tmp_path: Path) -> list[str]:
    """Umberto logs in on the national site (no password: one account) and sees it."""
    page.goto(national + "/")
    page.get_by_role("link", name=LOGIN_BUTTON).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        consent_heading("Covoiturage national"))
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(national + "/profile")
    page.goto(national + "/")
    expect(page.get_by_role("heading", name="Vos réservations")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(RIDE)
    expect(page.get_by_role("main")).to_contain_text(MEETING_POINT)
    expect(page.get_by_role("main")).not_to_contain_text("..")  # "avec Sophie M.." once
    return serious_violations(page, tmp_path, "national-bookings")


def stop_on_my_platforms(page: Page, live_server: LiveServer) -> None:
    """Under both platforms, the same sentence and its Stop button: one click, and the
    events are queued with the stop; the outbox's thread pushes them after the commit."""
    page.goto("/account/platforms")
    sections = [page.get_by_role("region", name=name)
                for name in ("Covoiturage régional", "Covoiturage national")]
    for section in sections:
        expect(section.get_by_role("button", name=STOP, exact=True)).to_be_visible()
    sections[0].get_by_role("button", name=STOP, exact=True).click()
    expect(page.get_by_text("Done. Covoiturage régional can no longer")).to_be_visible()
    # Bounded: the worker's thread ends once nothing is pending, at once if both arrived.
    live_server.app.extensions["idp.outbox"].worker.join(timeout=OUTBOX_WAIT)


def see_it_said_on_both_sites(page: Page, regional: str, national: str,
                              tmp_path: Path) -> list[str]:
    day = StoppedDelegation("", "", "", datetime.now(UTC)).day
    page.goto(regional + "/rides")
    main = page.get_by_role("main")
    expect(main).to_contain_text(
        "Covoiturage national n’accepte plus nos réservations pour vous.")
    expect(main).to_contain_text(
        f"Vous avez arrêté nos réservations sur Covoiturage national le {day}.")
    violations = serious_violations(page, tmp_path, "rides-stopped")
    page.goto(regional + "/")
    expect(page.get_by_role("main")).to_contain_text(
        f"Vous avez arrêté nos réservations sur Covoiturage national le {day}.")
    page.goto(national + "/")
    expect(page.get_by_role("main")).to_contain_text(
        f"Covoiturage régional ne réserve plus pour vous (arrêté le {day}).")
    return violations + serious_violations(page, tmp_path, "national-stopped")
