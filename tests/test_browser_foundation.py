"""The home page and the 404 page in a real browser, checked with axe-core."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser import assert_accessible, csp_violations


def test_home_page_in_chromium_is_accessible(live_server: str, browser_page: Page) -> None:
    violations = csp_violations(browser_page)
    browser_page.goto(live_server + "/")
    assert browser_page.locator("html").get_attribute("lang") == "sv"
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Innanförskapet"
    assert_accessible(browser_page)
    assert not violations, "\n".join(violations)


def test_not_found_page_in_chromium_is_accessible(live_server: str, browser_page: Page) -> None:
    response = browser_page.goto(live_server + "/finns-inte")
    assert response is not None and response.status == 404
    assert "Sidan hittades inte" in browser_page.content()
    assert_accessible(browser_page)
