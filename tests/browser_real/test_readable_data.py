"""The readable data and proof pages in a real browser (issue 12, item 9): axe-core finds
nothing, in French and English, and at 320 px nothing scrolls sideways, not even the
verification command or a long key name."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_real.conftest import PlatformSite
from tests.browser_real.layout import axe_results, scrolls_sideways
from tests.browser_real.test_login_and_consent import log_in
from tests.live import LiveTraveller


def allow_carpool(page: Page, site: PlatformSite, traveller: LiveTraveller) -> None:
    site.start_login(page, scope="openid email")
    log_in(page, traveller)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{site.platform.redirect_uri}?**")


def violations(page: Page) -> list[str]:
    results = axe_results(page)
    return [f"{v['id']} ({v['impact']}) {node['target']}"
            for v in results["violations"] for node in v["nodes"]]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_data_and_proof_pages_pass_axe_at_320_px(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, tmp_path: Path,
    language: str,
) -> None:
    allow_carpool(page, carpool_site, traveller)
    page.goto(f"/language/{language}?next=/account/platforms")
    page.set_viewport_size({"width": 320, "height": 800})
    proof = f"/account/platforms/{carpool_site.platform.client_id}/proof"
    found: list[str] = []
    for name, url in (("data", "/account/data"), ("proof", proof)):
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        found += [f"{name}: {v}" for v in violations(page)]
        assert not scrolls_sideways(page), f"the {name} page scrolls sideways at 320 px"
        page.screenshot(path=tmp_path / f"{name}-{language}-320.png", full_page=True)
    assert found == []


def test_the_file_and_the_signed_proof_download_from_their_pages(
    page: Page, carpool_site: PlatformSite, traveller: LiveTraveller, tmp_path: Path,
) -> None:
    allow_carpool(page, carpool_site, traveller)
    page.goto("/account/platforms")
    page.get_by_role("link", name="Download my data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My data")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON file)").click()
    assert download.value.suggested_filename == "mobility-id-data.json"

    page.goto("/account/platforms")
    page.get_by_role("link", name="See the proof of this agreement").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed proof").click()
    assert download.value.suggested_filename.endswith(".jws")
