"""In headless Chromium, by keyboard: put a new block between two others, watch the
character counter, delete a draft behind its confirm step and undo it (issue 16)."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from service.editor import service as editors
from service.issues.models import Block, Issue
from service.settings import Settings
from tests.browser import assert_accessible, csp_violations, in_database, log_in
from tests.editor.helpers import PASSWORD


def _setup(settings: Settings) -> int:
    async def work(session: AsyncSession) -> int:
        await editors.create_editor(session, "red@example.org", PASSWORD, name="Red")
        issue = Issue(
            slug="tangentbord",
            title="Med tangentbordet",
            issue_date=date(2026, 12, 1),
            blocks=[
                Block(position=i, kind="heading", data={"text": t})
                for i, t in enumerate(("Ett", "Två", "Tre"))
            ],
        )
        session.add(issue)
        await session.flush()
        return issue.id

    return in_database(settings, work)


def _order(page: Page) -> list[str]:
    return [
        re.sub(r"^\d+\. Avsnittsrubrik: ", "", h.inner_text())
        for h in page.locator(".block-list h3").all()
    ]


def test_insert_between_by_keyboard_counter_and_undo_delete(
    settings: Settings, live_server: str, browser_page: Page
) -> None:
    issue_id = _setup(settings)
    page = browser_page
    blocked = csp_violations(page)
    page.goto(live_server + "/redaktion/logga-in")
    log_in(page, "red@example.org", PASSWORD)
    page.goto(f"{live_server}/redaktion/utskick/{issue_id}")
    assert _order(page) == ["Ett", "Två", "Tre"]

    # "Lägg till block här nedanför" under block 1, by keyboard.
    page.get_by_role("link", name="Lägg till block här nedanför").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?efter=\d+#nytt-block$"))
    assert "Det nya blocket placeras efter block 1" in page.locator("#block-sista").inner_text()
    summary = page.locator("#block-sista summary", has_text="Avsnittsrubrik")
    summary.focus()
    page.keyboard.press("Enter")  # opens the details
    assert page.locator("#ny-heading-placering").input_value().startswith("efter-")
    page.locator("#ny-heading-text").focus()
    page.keyboard.type("Mitt emellan")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_url(re.compile(r"#block-\d+$"))
    assert _order(page) == ["Ett", "Mitt emellan", "Två", "Tre"]
    new_id = page.url.rsplit("#block-", 1)[1]
    assert "Mitt emellan" in page.locator(f"#block-{new_id} h3").inner_text()
    assert_accessible(page)

    # The counter under a textarea: the count against the limit, marked when over it.
    page.locator("#block-sista summary", has_text="Notis").click()
    body = page.locator("#ny-notice-body")
    body.fill("Hej")
    count = page.locator("#ny-notice-body-antal")
    assert count.inner_text().replace("\xa0", " ") == "3 / 20 000 tecken"
    assert "ny-notice-body-antal" in (body.get_attribute("aria-describedby") or "")
    body.fill("x" * 20_001)
    assert count.inner_text().replace("\xa0", " ") == "20 001 / 20 000 tecken – 1 tecken för mycket"
    assert "over" in (count.get_attribute("class") or "")

    # Deleting the draft: a confirm step, then "Ångra" on the list brings it back.
    page.locator("summary", has_text="Ta bort utkastet").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Ja, ta bort utkastet").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/redaktion\?borttaget=\d+$"))
    assert "är borttaget" in page.get_by_role("status").inner_text()
    assert_accessible(page)
    page.get_by_role("button", name="Ångra").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"aterstallt=1$"))
    assert _order(page) == ["Ett", "Mitt emellan", "Två", "Tre"]
    assert blocked == []
