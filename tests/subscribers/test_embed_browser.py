"""The embeddable signup form in headless Chromium, framed by a page of another site: the
site in INNAN_EMBED_ORIGINS can embed it and sign people up through it; any other site,
and any other page of the service, is refused by the browser (CSP frame-ancestors).

The other sites are small HTTP servers on ``localhost`` (the service is on ``127.0.0.1``,
another origin); Chromium refuses a public site framing a loopback address anyway, and
for trying embedding locally INNAN_EMBED_ORIGINS accepts plain http to localhost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from service.settings import Settings
from tests.browser import csp_violations
from tests.conftest import free_ports, make_settings


class EmbeddingPage(BaseHTTPRequestHandler):
    """``/?src=URL``: a page of another site that frames ``URL`` the way the embedding
    instructions on /prenumerera say."""

    def do_GET(self) -> None:
        src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
        body = (
            '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Förbundet'
            f'</title></head><body><h1>Vårt nyhetsbrev</h1><iframe title="Prenumerera" src="{src}" '
            'width="100%" height="900"></iframe></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[str, str]]:
    """The base URLs of two other sites: the one allowed to embed, and one that is not."""
    servers = [ThreadingHTTPServer(("127.0.0.1", port), EmbeddingPage) for port in free_ports(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tuple(f"http://localhost:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, sites: tuple[str, str]) -> Settings:
    return make_settings(tmp_path, db_url, INNAN_EMBED_ORIGINS=sites[0])


def test_the_configured_site_embeds_the_form_and_signs_up_through_it(
    live_server: str, browser_page: Page, sites: tuple[str, str]
) -> None:
    page = browser_page
    violations = csp_violations(page)
    page.goto(f"{sites[0]}/?src={live_server}/prenumerera/inbaddning")
    form = page.frame_locator("iframe")
    form.get_by_label("E-postadress").fill("ny.lasare@example.org")
    form.get_by_role("button", name="Prenumerera").click()
    expect(form.get_by_role("heading", level=1)).to_have_text("Kontrollera din e-post")
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize(
    ("site", "path"),
    [(1, "/prenumerera/inbaddning"), (0, "/prenumerera"), (0, "/redaktion/logga-in")],
)
def test_other_sites_and_other_pages_cannot_be_framed(
    live_server: str, browser_page: Page, sites: tuple[str, str], site: int, path: str
) -> None:
    page = browser_page
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        page.goto(f"{sites[site]}/?src={live_server}{path}")
    # The frame shows the browser's refusal instead of the page (with its form).
    expect(page.frame_locator("iframe").locator("form")).to_have_count(0)
    assert page.get_by_role("heading", level=1).inner_text() == "Vårt nyhetsbrev"
