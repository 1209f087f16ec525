"""In headless Chromium against the real server and its in-process worker: an editor sends
an issue now (confirming on the question page, by keyboard) and watches the delivery
page follow the send to the end by itself, with the recipient the mail server refused
listed with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from service.settings import Settings
from tests.browser import assert_accessible, csp_violations, in_database, log_in
from tests.conftest import make_settings
from tests.editor.helpers import PASSWORD, make_editor
from tests.factories import add_subscribers, make_issue
from tests.smtp import SmtpServer

REFUSED = "mottagare2@exempel.se"


@pytest.fixture
def settings(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Settings:
    # The live server runs the worker in-process and sends to a real SMTP server.
    return make_settings(tmp_path, db_url, INNAN_RUN_WORKERS="true", INNAN_SMTP_URL=smtp_server.url)


async def _issue_with_audience(session: AsyncSession) -> int:
    await make_editor(session)
    await add_subscribers(session, 3)
    return (await make_issue(session)).id


def test_editor_sends_now_and_the_page_follows_the_send(
    settings: Settings, smtp_server: SmtpServer, live_server: str, browser_page: Page
) -> None:
    smtp_server.refuse_recipient(REFUSED)
    smtp_server.handler.hold = True  # the accepted mails wait at DATA until released
    issue_id = in_database(settings, _issue_with_audience)
    page = browser_page
    violations = csp_violations(page)  # delivery.js must work under the page's CSP
    page.goto(f"{live_server}/redaktion/utskick/{issue_id}/leverans")
    assert "/redaktion/logga-in" in page.url
    log_in(page, "red@example.org", PASSWORD)
    page.goto(f"{live_server}/redaktion/utskick/{issue_id}/leverans")
    status = page.locator("#leverans-status")
    expect(status).to_contain_text("utkast")
    assert_accessible(page)

    # "Skicka nu" only asks; the editor confirms with the keyboard.
    page.get_by_role("button", name="Skicka nu").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Skicka Nyhetsbrev augusti 2019 nu?")
    expect(page.locator("#bekrafta-uppgifter")).to_contain_text("nu direkt")
    assert_accessible(page)
    assert smtp_server.received == [] and not smtp_server.handler.held.is_set()
    confirm = page.get_by_role("button", name="Ja, skicka nu till 3 mottagare")
    confirm.focus()
    page.keyboard.press("Enter")
    expect(status).to_contain_text("skickas")
    expect(page.get_by_text("uppdateras var tionde sekund")).to_be_visible()
    expect(page.get_by_role("button", name="Pausa utskicket")).to_be_visible()
    expect(page.locator("caption")).to_contain_text("totalt 3")
    assert_accessible(page)  # among others axe's meta-refresh rule: no timed reload
    assert smtp_server.handler.held.wait(20), "the worker never reached the mail server"
    page.evaluate("window.sammaSida = true")  # gone if the page were loaded again

    # The editor turns the automatic updates off: the figures stand still while the send
    # ends, over more than one update interval.
    page.get_by_role("button", name="Stäng av den automatiska uppdateringen").click()
    switch_on = page.get_by_role("button", name="Slå på den automatiska uppdateringen")
    expect(switch_on).to_be_visible()
    smtp_server.handler.release.set()
    page.wait_for_timeout(12_000)
    expect(status).to_contain_text("skickas")

    # On again: the page follows the send to its end by itself, without a reload.
    switch_on.click()
    expect(status).to_contain_text("skickat", timeout=40_000)
    expect(page.get_by_role("status")).to_contain_text("skickat")  # announced, politely
    assert page.evaluate("window.sammaSida") is True
    expect(page.get_by_text("uppdateras var tionde sekund")).to_have_count(0)
    expect(page.get_by_role("button", name="Pausa utskicket")).to_have_count(0)
    expect(page.get_by_text("Det finns inget mer att göra här")).to_be_visible()
    expect(page.get_by_text("Beräknad tid kvar")).to_have_count(0)
    totals = page.locator("#leverans-lage tbody")
    expect(totals.locator("tr", has_text="skickade")).to_contain_text("2")
    expect(totals.locator("tr", has_text="misslyckade")).to_contain_text("1")
    problem = page.locator("#leverans-problem tr", has_text=REFUSED)
    expect(problem).to_contain_text("misslyckade")
    expect(problem).to_contain_text("550")
    expect(page.get_by_role("link", name="Ladda ner listan som CSV")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Tillbaka till utskicket").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nyhetsbrev augusti 2019")
    assert not violations, "\n".join(violations)
    assert sorted(r for m in smtp_server.received for r in m.rcpt_tos) == [
        "mottagare0@exempel.se",
        "mottagare1@exempel.se",
    ]
