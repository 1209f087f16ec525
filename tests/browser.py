"""Browser fixtures: the app served by uvicorn in a thread, and headless Debian Chromium.

Browser tests are plain (sync) ``def`` tests::

    def test_signup_page_is_accessible(live_server: str, browser_page: Page) -> None:
        browser_page.goto(live_server + "/prenumerera")
        assert_accessible(browser_page)

``live_server`` serves ``create_app(settings)`` on the parametrised test database (so
browser tests run on SQLite and PostgreSQL like every storage test).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import uvicorn
from playwright.sync_api import ConsoleMessage, Page, sync_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.cli import run_in_session
from service.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LiveServer:
    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """Base URL of the app, served for real over HTTP on a free loopback port.

    The app's ``INNAN_BASE_URL`` stays ``http://testserver.local``; links in mails point
    there, so tests that follow mailed links replace that prefix with this URL.
    """
    from tests.conftest import free_port

    server = LiveServer(settings, free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def browser_page() -> Iterator[Page]:
    """A fresh page in headless Chromium (Debian's, never a downloaded browser)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="sv-SE")
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


def assert_accessible(page: Page) -> None:
    """Fail with the list of axe-core violations (WCAG 2.1 A/AA rules) on ``page``."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
        },
    )
    violations = results.response.get("violations", [])
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
    ]
    assert not violations, "axe-core found accessibility problems:\n" + "\n".join(summary)


def csp_violations(page: Page) -> list[str]:
    """The Content-Security-Policy violations Chromium reports on ``page``'s console (its
    frames included) from now on; the list fills while the test goes on."""
    found: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(f"{page.url}: {message.text}")

    page.on("console", note)
    return found


T = TypeVar("T")


def in_database(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed session on the app's database (the CLI's
    ``run_in_session``) and return its result.

    For a browser test's setup: Playwright's sync API keeps an event loop in the test's
    thread, so this runs in a thread (and a loop) of its own.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_in_session, settings, work).result()


def log_in(page: Page, email: str, password: str) -> None:
    """Fill in and send the editor login form shown on ``page``."""
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
