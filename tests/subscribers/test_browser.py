"""The subscriber pages in headless Chromium, checked with axe-core (WCAG 2.1 A/AA), used
with the keyboard and without JavaScript-dependent behaviour."""

from __future__ import annotations

from playwright.sync_api import Page

from service.settings import Settings
from tests.browser import assert_accessible, csp_violations
from tests.mails import text_of
from tests.subscribers.helpers import link, mails


def _live(url_path: str, live_server: str) -> str:
    return live_server + url_path


def test_signup_confirm_and_preference_centre_are_accessible(
    live_server: str, browser_page: Page, settings: Settings
) -> None:
    page = browser_page
    violations = csp_violations(page)
    page.goto(live_server + "/prenumerera")
    assert page.locator("html").get_attribute("lang") == "sv"
    assert_accessible(page)

    # Keyboard: the fields come in reading order; the honeypot is skipped.
    page.focus("#email")
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert order[:4] == ["name", "organisation", "role", "lista-1"]
    assert "hemsida" not in order

    # Errors are announced and tied to their fields.
    page.get_by_label("E-postadress").fill("inte-en-adress")
    page.get_by_role("button", name="Prenumerera").click()
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    assert page.locator("#email").get_attribute("aria-describedby") == "email-fel"
    assert "giltig e-postadress" in page.locator("#email-fel").inner_text()
    assert_accessible(page)

    page.get_by_label("E-postadress").fill("webb@example.se")
    page.get_by_label("Namn").fill("Webb Läsare")
    page.get_by_role("button", name="Prenumerera").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Kontrollera din e-post"
    assert_accessible(page)

    confirm = link(text_of(mails(settings)[-1]), "/bekrafta/")
    page.goto(_live(confirm, live_server))
    assert_accessible(page)
    page.get_by_role("button", name="Bekräfta prenumerationen").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Prenumerationen är bekräftad"
    assert_accessible(page)

    prefs = link(text_of(mails(settings)[-1]), "/installningar/")
    page.goto(_live(prefs, live_server))
    assert page.get_by_role("heading", level=1).inner_text() == "Hantera prenumeration"
    assert_accessible(page)
    page.get_by_label("Organisation").fill("Laholms kommun")
    page.get_by_role("button", name="Spara uppgifter").click()
    assert "Dina uppgifter är sparade." in page.content()
    # A bad new address: the error is tied to the field.
    page.get_by_label("Ny e-postadress").fill("fel")
    page.get_by_role("button", name="Skicka bekräftelselänk").click()
    assert page.locator("#new_email").get_attribute("aria-invalid") == "true"
    assert_accessible(page)

    page.goto(_live(prefs + "/radera", live_server))
    assert_accessible(page)
    unsubscribe = link(mails(settings)[-1]["List-Unsubscribe"], "/avregistrera/")
    page.goto(_live(unsubscribe, live_server))
    assert_accessible(page)
    page.get_by_role("button", name="Avregistrera mig").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Du är avregistrerad"
    assert_accessible(page)
    assert not violations, "\n".join(violations)


def test_embed_and_privacy_pages_are_accessible(live_server: str, browser_page: Page) -> None:
    page = browser_page
    page.goto(live_server + "/prenumerera/inbaddning")
    assert page.locator("html").get_attribute("lang") == "sv"
    assert_accessible(page)
    page.goto(live_server + "/integritet")
    assert_accessible(page)
    page.goto(live_server + "/integritet/samtycke/1")
    assert_accessible(page)
    response = page.goto(live_server + "/bekrafta/okand-lank")
    assert response is not None and response.status == 404
    assert_accessible(page)
