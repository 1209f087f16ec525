"""The archive index, an issue page and the calendar in headless Chromium, checked with axe-core."""

from __future__ import annotations

from playwright.sync_api import Page

from service.demo import load_all
from service.settings import Settings
from tests.browser import assert_accessible, csp_violations, in_database


def test_archive_pages_are_accessible(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    in_database(settings, lambda session: load_all(session, settings))
    violations = csp_violations(browser_page)
    for path, heading in (
        ("/arkiv", "Arkiv"),
        ("/arkiv?q=FINSAM", "Arkiv"),
        ("/arkiv/2019/nyhetsbrev-augusti-2019", "Nyhetsbrev augusti 2019"),
        ("/kalender", "FINSAM-kalendern"),
        ("/kalender/tidigare", "Tidigare aktiviteter"),
    ):
        response = browser_page.goto(live_server + path)
        assert response is not None and response.status == 200, path
        assert browser_page.locator("html").get_attribute("lang") == "sv"
        assert browser_page.get_by_role("heading", level=1).first.inner_text() == heading
        assert_accessible(browser_page)
    assert not violations, "\n".join(violations)


def test_issue_page_is_readable_on_a_phone(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    in_database(settings, lambda session: load_all(session, settings))
    browser_page.set_viewport_size({"width": 360, "height": 740})
    browser_page.goto(live_server + "/arkiv/2019/nyhetsbrev-augusti-2019")
    overflow = browser_page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert_accessible(browser_page)
