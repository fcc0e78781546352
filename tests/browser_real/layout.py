"""Reading what a page looks like: sizes, sideways scrolling, colours and axe-core's
contrast checks mean something only once the stylesheet applies.

A click that submits a form returns as soon as the new page's text is there, and
chromium lays a page out without a stylesheet that is still on its way: a measure taken
then is of the unstyled page (seen on CI: Allow measured 48×21 against Deny's 47×21, with
two test workers on 2 cores). Every read of the layout goes through ``settled``, so that
none measures a page before its stylesheet."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import FloatRect, Locator, Page

# Every stylesheet the page links has been parsed into a sheet the page uses.
STYLESHEETS_IN = """() => [...document.querySelectorAll('link[rel=stylesheet]')]
  .every(link => link.sheet !== null)"""


def settled(page: Page) -> Page:
    """The page as the traveller sees it: loaded, its stylesheets applied."""
    page.wait_for_load_state("load")
    page.wait_for_function(STYLESHEETS_IN)
    return page


def scrolls_sideways(page: Page) -> bool:
    settled(page)
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def box_of(control: Locator) -> FloatRect | None:
    settled(control.page)
    return control.bounding_box()


def axe_results(page: Page) -> dict[str, Any]:
    """axe-core's results on the styled page; it must have checked something."""
    results: dict[str, Any] = Axe().run(settled(page)).response
    assert results["passes"], "axe-core checked nothing: was it injected?"
    return results
