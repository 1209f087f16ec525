"""In headless Chromium against the real server: login → compose (add a block) → preview;
an admin creates an editor who sets a password through the one-time link."""

from __future__ import annotations

from playwright.sync_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from service.editor import service
from service.settings import Settings
from tests.browser import assert_accessible, csp_violations, in_database, log_in
from tests.editor.helpers import PASSWORD


def _create_editor(
    settings: Settings, email: str = "red@example.org", role: str = "editor"
) -> None:
    in_database(
        settings,
        lambda session: service.create_editor(session, email, PASSWORD, name="Red", role=role),
    )


def test_login_compose_preview(settings: Settings, live_server: str, browser_page: Page) -> None:
    _create_editor(settings)
    page = browser_page
    page.goto(live_server + "/redaktion")
    assert "/redaktion/logga-in" in page.url
    assert_accessible(page)
    log_in(page, "red@example.org", PASSWORD)
    page.get_by_role("link", name="Nytt utskick").click()
    page.get_by_label("Rubrik").fill("Nyhetsbrev från webbläsaren")
    page.get_by_label("Datum").fill("2026-12-01")
    page.get_by_role("button", name="Skapa utskick").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Nyhetsbrev från webbläsaren"
    page.locator("summary", has_text="Artikel").click()
    page.locator("#ny-article-heading").fill("Höstens fackliga forum")
    page.locator("#ny-article-body").fill("Välkommen till **forum** i Halmstad.")
    page.get_by_role("button", name="Lägg till artikel").click()
    assert page.locator("#block-sista").count() == 1
    assert "Höstens fackliga forum" in page.locator(".block-list").inner_text()
    assert_accessible(page)
    page.get_by_role("link", name="Förhandsvisa och provskicka").click()
    frame = page.frame_locator("iframe.mail-frame")
    assert "Höstens fackliga forum" in frame.locator("body").inner_text()
    page.get_by_role("link", name="Mobil (320 px)").click()
    assert page.locator("iframe.mail-frame").bounding_box()["width"] <= 322  # type: ignore[index]
    page.get_by_role("link", name="Ren text").click()
    assert "Höstens fackliga forum" in page.locator("pre.mail-text").inner_text()
    assert_accessible(page)


def test_admin_creates_editor_who_sets_password(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    _create_editor(settings, "chef@example.org", role="admin")
    page = browser_page
    page.goto(live_server + "/redaktion/logga-in")
    log_in(page, "chef@example.org", PASSWORD)
    page.get_by_role("link", name="Redaktörer").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Redaktörer"
    assert_accessible(page)
    page.get_by_label("E-postadress", exact=True).fill("ny@example.org")
    page.get_by_label("Namn", exact=True).fill("Nora Ny")
    page.get_by_label("Roll", exact=True).select_option("editor")
    page.get_by_role("button", name="Skapa redaktör").click()
    assert "Kontot för ny@example.org är skapat" in page.locator("[role=status]").inner_text()
    assert "Väntar på lösenord" in page.locator("table").inner_text()
    assert_accessible(page)
    link = page.locator("#losenordslank").inner_text()
    page.goto(link.replace(settings.base_url, live_server))
    assert_accessible(page)
    page.get_by_label("Nytt lösenord").fill("nora-väljer-ett-långt-lösen")
    page.get_by_label("Samma lösenord igen").fill("nora-väljer-ett-långt-lösen")
    page.get_by_role("button", name="Spara lösenordet").click()
    assert "Ditt lösenord är sparat" in page.locator("[role=status]").inner_text()
    log_in(page, "ny@example.org", "nora-väljer-ett-långt-lösen")
    assert "Inloggad som Nora Ny" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="Redaktörer").count() == 0


async def _load_demo(session: AsyncSession, settings: Settings) -> dict[str, int]:
    """The demo content (the August 2019 issue, the calendar, the lists), and some ids."""
    from sqlalchemy import select

    from service.calendar.models import CalendarItem
    from service.demo import load_all
    from service.issues.models import Issue

    await load_all(session, settings)
    return {
        "issue": int(await session.scalar(select(Issue.id).order_by(Issue.id).limit(1)) or 0),
        "item": int(
            await session.scalar(select(CalendarItem.id).order_by(CalendarItem.id).limit(1)) or 0
        ),
    }


def test_every_editor_page_is_accessible(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    ids = in_database(settings, lambda session: _load_demo(session, settings))
    assert ids["issue"] and ids["item"], ids
    _create_editor(settings, "chef@example.org", role="admin")
    page = browser_page
    violations = csp_violations(page)
    page.goto(live_server + "/redaktion/logga-in")
    log_in(page, "chef@example.org", PASSWORD)
    issue, item = ids["issue"], ids["item"]
    for path in (
        "/redaktion",
        "/redaktion/utskick/nytt",
        f"/redaktion/utskick/{issue}",
        f"/redaktion/utskick/{issue}/forhandsvisning",
        f"/redaktion/utskick/{issue}/leverans",
        "/redaktion/kalender",
        "/redaktion/kalender/ny",
        f"/redaktion/kalender/{item}",
        "/redaktion/bilder",
        "/redaktion/nycklar",
        "/redaktion/redaktorer",
        "/redaktion/arkiv",
        "/redaktion/import",
    ):
        response = page.goto(live_server + path)
        assert response is not None and response.status == 200, path
        assert "/logga-in" not in page.url, path
        assert_accessible(page)
    assert not violations, "\n".join(violations)  # the pages work under their CSP


async def _picker_issue(session: AsyncSession, settings: Settings) -> dict[str, str]:
    """An editor, two calendar items, one library image and an empty draft dated
    1 September 2019 (before both items)."""
    from datetime import date

    from service.issues.demo import png
    from service.issues.models import Issue
    from service.media.service import store_upload
    from tests.factories import calendar_items

    await service.create_editor(session, "red@example.org", PASSWORD, name="Red", role="editor")
    session.add_all(calendar_items("tangent"))
    media = await store_upload(
        session, settings, png(60, 30, lambda x, y: (200, 120, 40)), "karta-halland.png",
        editor_id=None, actor="test",
    )  # fmt: skip
    issue = Issue(
        slug="tangentbord", title="Tangentbordsnumret", subject="Tangentbordsnumret",
        issue_date=date(2019, 9, 1),
    )  # fmt: skip
    session.add(issue)
    await session.flush()
    return {"issue": str(issue.id), "src": f"/media/{media.filename}"}


def test_pickers_with_the_keyboard_only(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    ids = in_database(settings, lambda session: _picker_issue(session, settings))
    page = browser_page
    violations = csp_violations(page)
    page.goto(live_server + "/redaktion/logga-in")
    log_in(page, "red@example.org", PASSWORD)
    page.goto(f"{live_server}/redaktion/utskick/{ids['issue']}")
    keys = page.keyboard
    # Calendar: open the block type, choose "only these", tick the second item, send.
    page.locator("summary", has_text="Kalendarium").focus()
    keys.press("Enter")
    page.locator("#ny-calendar-heading").focus()
    keys.press("Tab")  # into the "Visa" radio group, on the checked choice
    keys.press("ArrowDown")  # "Bara de punkter jag kryssar i nedan"
    assert page.get_by_label("Bara de punkter jag kryssar i nedan").first.is_checked()
    keys.press("Tab")  # the number of upcoming items
    keys.press("Tab")  # the first calendar item
    keys.press("Tab")  # the second one
    keys.press("Space")
    assert_accessible(page)
    keys.press("Tab")
    with page.expect_navigation():
        keys.press("Enter")  # "Lägg till kalendarium"
    listed = page.locator(".block-list")
    assert "1. Kalendarium: Kalendarium" in listed.inner_text()
    assert listed.get_by_label(
        "fredag 4 oktober kl. 10.00–12.00 – Öppen konferensplanering"
    ).is_checked()
    assert not listed.get_by_label(
        "fredag 20 september – Arbetsplatsambassadörsdag Tema Språkinlärning"
    ).is_checked()
    # Article: no heading, a text, the library image chosen with the arrow keys, an alt text.
    page.locator("summary", has_text="Artikel").focus()
    keys.press("Enter")
    page.locator("#ny-article-body").focus()
    keys.type("Kartan visar förbundets sex kommuner.")
    keys.press("Tab")  # the "Bild" radio group, on "Ingen bild"
    keys.press("ArrowDown")  # the library image
    keys.press("Tab")  # "eller ange en adress"
    keys.press("Tab")  # the alt text
    keys.type("Karta över Halland")
    with page.expect_navigation():
        keys.press("Enter")  # submits the form
    assert "2. Artikel: Kartan visar förbundets sex kommuner." in listed.inner_text()
    own = page.locator(".block-list li").nth(1)
    assert own.get_by_label("karta-halland.png", exact=False).is_checked()
    assert own.get_by_label("Alternativtext (krävs med bild)").input_value() == "Karta över Halland"
    assert_accessible(page)
    page.get_by_role("link", name="Förhandsvisa och provskicka").click()
    frame = page.frame_locator("iframe.mail-frame")
    assert frame.locator(f"img[src$='{ids['src']}']").get_attribute("alt") == "Karta över Halland"
    assert "Öppen konferensplanering" in frame.locator("body").inner_text()
    assert not violations, "\n".join(violations)
