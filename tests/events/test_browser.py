"""The registration form and the check-in page in headless Chromium: keyboard only,
checked with axe-core (WCAG 2.1 A/AA), the check-in page at a phone's 375 px."""

from __future__ import annotations

from playwright.sync_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from service.editor import service as editors
from service.events.models import Registration
from service.settings import Settings
from tests.browser import assert_accessible, csp_violations, in_database, log_in
from tests.editor.helpers import PASSWORD
from tests.events.helpers import add_registration, make_event


def test_keyboard_only_registration(
    live_server: str, browser_page: Page, settings: Settings
) -> None:
    async def setup(session: AsyncSession) -> int:
        _event, item = await make_event(session, settings, capacity=5)
        return item.id

    item_id = in_database(settings, setup)
    page = browser_page
    violations = csp_violations(page)
    page.goto(f"{live_server}/kalender")
    page.locator(f'a[href="/kalender/{item_id}/anmalan"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/kalender/{item_id}/anmalan")
    assert_accessible(page)
    page.focus("#email")
    page.keyboard.type("tangent@example.se")
    order = []
    for text in ("Tina Tangent", "Region Halland", "Samordnare", ""):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
        page.keyboard.type(text)
    assert order == ["name", "organisation", "role", "needs"]
    page.keyboard.press("Tab")  # the radio group: one stop, the arrow keys choose
    assert page.evaluate("document.activeElement.id") == "svar-workshop-1"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "svar-dagar-1"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past "Dag 2"; the honeypot is skipped
    assert page.evaluate("document.activeElement.id") == "consent"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "newsletter"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1, name="Kolla din e-post").wait_for()
    assert_accessible(page)
    assert violations == []


def test_check_in_on_a_phone(live_server: str, browser_page: Page, settings: Settings) -> None:
    async def setup(session: AsyncSession) -> tuple[int, int]:
        event, _item = await make_event(session, settings)
        people = [
            await add_registration(session, event, f"p{n}@example.se", name=name)
            for n, name in enumerate(("Anna Andersson", "Bo Berg med ett mycket långt namn"))
        ]
        await editors.create_editor(session, "red@example.org", PASSWORD, name="Redaktör")
        return event.id, people[0].id

    event_id, anna = in_database(settings, setup)
    page = browser_page
    violations = csp_violations(page)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server}/redaktion/evenemang/{event_id}/incheckning")
    log_in(page, "red@example.org", PASSWORD)
    page.goto(f"{live_server}/redaktion/evenemang/{event_id}/incheckning")
    assert_accessible(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    button = page.locator(f"#person-{anna} button")
    box = button.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 44
    button.focus()
    page.keyboard.press("Enter")
    page.locator(f'#person-{anna} button[aria-pressed="true"]').wait_for()
    assert page.locator(f"#person-{anna} button").get_attribute("aria-pressed") == "true"
    assert "1 av 2 bekräftade har checkat in" in page.locator("[role=status]").inner_text()
    assert_accessible(page)
    assert violations == []

    async def attended(session: AsyncSession) -> bool:
        registration = await session.get(Registration, anna)
        return registration is not None and registration.attended_at is not None

    assert in_database(settings, attended)
