"""The import page in headless Chromium: axe-core (WCAG 2.1 A/AA) before and after an
upload, used like an administrator would (labels, file chooser, the report)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from service.editor.service import create_editor
from service.settings import Settings
from tests.browser import assert_accessible, in_database, log_in
from tests.ops.test_import import excel_bytes

PASSWORD = "ett-långt-lösenord-för-test"


def test_import_page_is_accessible_and_works(
    live_server: str, browser_page: Page, settings: Settings, tmp_path: Path
) -> None:
    in_database(
        settings,
        lambda session: create_editor(session, "admin@example.se", PASSWORD, role="admin"),
    )
    page = browser_page
    page.goto(live_server + "/redaktion/import")
    log_in(page, "admin@example.se", PASSWORD)
    assert page.get_by_role("heading", level=1).inner_text() == "Importera prenumeranter"
    assert_accessible(page)

    upload = tmp_path / "medlemmar.csv"
    upload.write_bytes(excel_bytes())
    page.get_by_label("CSV-fil").set_input_files(str(upload))
    page.get_by_label("Lista").select_option("nyhetsbrev")
    page.get_by_label("samtycke").check()
    page.get_by_label("Varifrån kommer adresserna?").fill("Konferens 2019")
    page.get_by_label("Provkörning: visa bara vad som skulle hända").uncheck()
    page.get_by_role("button", name="Importera").click()
    assert page.get_by_role("heading", name="Importen är klar").is_visible()
    assert "avvisade raderna med orsak" in page.get_by_role("link", name="Ladda ned").inner_text()
    assert_accessible(page)
