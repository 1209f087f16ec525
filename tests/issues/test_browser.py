"""The demo August 2019 mail in headless Chromium: axe-core (WCAG 2.1 AA) at desktop and
320 px width, with images off, and the web fragment in a minimal page."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import Page
from sqlalchemy import select

from service.db import create_engine, create_session_factory, session_scope
from service.demo import load_all
from service.issues.demo import AUGUST_SLUG
from service.issues.models import Issue
from service.issues.render import RenderedIssue, render_issue
from service.settings import Settings
from tests.browser import assert_accessible
from tests.issues.helpers import personalised


def _render_demo(settings: Settings) -> RenderedIssue:
    async def go() -> RenderedIssue:
        engine = create_engine(settings.database_url)
        try:
            factory = create_session_factory(engine)
            async with session_scope(factory) as session:
                await load_all(session, settings)
            async with session_scope(factory) as session:
                issue_id = await session.scalar(select(Issue.id).where(Issue.slug == AUGUST_SLUG))
                assert issue_id is not None
                return await render_issue(session, settings, issue_id)
        finally:
            await engine.dispose()

    # the sync Playwright fixture runs its own event loop in this thread
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_demo_mail_is_accessible_at_desktop_and_320px(
    settings: Settings, browser_page: Page
) -> None:
    rendered = _render_demo(settings)
    html, _text = personalised(
        settings,
        rendered,
        name="Åsa",
        prefs_url="https://x.test/p",
        unsubscribe_url="https://x.test/u",
    )
    page = browser_page
    page.route("**/*", lambda route: route.abort())  # images off: nothing is fetched
    for width in (640, 320):
        page.set_viewport_size({"width": width, "height": 900})
        page.set_content(html)
        assert page.locator("html").get_attribute("lang") == "sv"
        assert page.get_by_role("heading", level=1).inner_text() == "Nyhetsbrev augusti 2019"
        assert page.get_by_role("heading", name="Noterat från Almedalen").count() == 1
        assert page.get_by_role("link", name="Anmäl ert intresse").count() == 1
        assert page.get_by_role("link", name="Avregistrera").get_attribute("href") == (
            "https://x.test/u"
        )
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"horizontal scrolling at {width}px: {overflow}"
        assert_accessible(page)


def test_web_fragment_is_accessible(settings: Settings, browser_page: Page) -> None:
    rendered = _render_demo(settings)
    page = browser_page
    page.route("**/*", lambda route: route.abort())
    page.set_content(
        '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Arkiv</title>'
        f"</head><body><main>{rendered.web_html}</main></body></html>"
    )
    assert page.get_by_role("heading", level=1).inner_text() == "Nyhetsbrev augusti 2019"
    assert page.get_by_role("link", name="Avregistrera").count() == 0
    assert_accessible(page)
