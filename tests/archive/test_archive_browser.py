"""The archive index, an issue page and the calendar in headless Chromium, checked with axe-core."""

from __future__ import annotations

from playwright.sync_api import Page
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.demo import load_all
from service.events.demo import CONFERENCE_UID
from service.settings import Settings
from tests.browser import assert_accessible, csp_violations, in_database


async def _demo(session: AsyncSession, settings: Settings) -> int:
    """The demo content; the id of the Finsam conference (registration open)."""
    await load_all(session, settings)
    found = await session.scalar(select(CalendarItem.id).where(CalendarItem.uid == CONFERENCE_UID))
    assert found is not None
    return int(found)


def test_archive_pages_are_accessible(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    conference = in_database(settings, lambda session: _demo(session, settings))
    violations = csp_violations(browser_page)
    for path, heading in (
        ("/arkiv", "Arkiv"),
        ("/arkiv?q=FINSAM", "Arkiv"),
        ("/arkiv/2019/nyhetsbrev-augusti-2019", "Nyhetsbrev augusti 2019"),
        ("/kalender", "FINSAM-kalendern"),
        (f"/kalender/{conference}", "Finsamkonferens: Innanförskapets möjligheter"),
        ("/kalender/tidigare", "Tidigare aktiviteter"),
    ):
        response = browser_page.goto(live_server + path)
        assert response is not None and response.status == 200, path
        assert browser_page.locator("html").get_attribute("lang") == "sv"
        assert browser_page.get_by_role("heading", level=1).first.inner_text() == heading
        assert_accessible(browser_page)
    assert not violations, "\n".join(violations)


def test_the_demo_conference_takes_registrations_on_the_calendar(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    """What ``make run`` shows: the demo conference on /kalender with "Anmäl dig", the
    seats left and the closing date, and the link leads to its form."""
    conference = in_database(settings, lambda session: _demo(session, settings))
    browser_page.goto(live_server + "/kalender")
    entry = browser_page.locator(f"#item-{conference}")
    assert "117 platser kvar." in entry.inner_text()
    assert "Sista anmälningsdag" in entry.inner_text()
    entry.get_by_role("link", name="Anmäl dig").click()
    browser_page.wait_for_url(f"**/kalender/{conference}/anmalan")
    heading = browser_page.get_by_role("heading", level=1).inner_text()
    assert heading == "Anmälan: Finsamkonferens: Innanförskapets möjligheter"
    assert browser_page.get_by_label("Vilken workshop väljer du?").count() == 0  # a group
    assert browser_page.get_by_role("group", name="Vilken workshop väljer du?").count() == 1


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
