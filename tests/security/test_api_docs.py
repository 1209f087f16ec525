"""The API reference at /api/schema works offline: Redoc comes from our own static files,
the page loads nothing from another origin, and its policy allows no other origin."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, Route

from service.api import REDOC_JS
from tests.browser import csp_violations
from tests.pages import Client
from tests.security.test_headers import csp

# The vendored bundle (templates/static/vendor/redoc/README.md says how to update it).
REDOC_SHA256 = "fa4bf581e8f8dd51cc9198fc951cd9b0b8ba4f5d625ea7825118bae6ca41aa29"
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
PAGES = ("/api/schema", "/api/schema/redoc")


def _references(page: str) -> list[str]:
    return re.findall(r"""(?:src|href|spec-url)=["']([^"']+)""", page)


async def test_the_reference_page_names_only_our_own_files(client: Client) -> None:
    for path in PAGES:
        response = await client.get(path)
        assert response.status_code == 200, path
        refs = _references(response.text)
        assert REDOC_JS in refs and "/api/schema/openapi.json" in refs, refs
        assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
        policy = csp(response)
        assert policy["script-src"] == ["'self'"]
        assert not [v for values in policy.values() for v in values if "://" in v], policy
        assert policy["frame-ancestors"] == ["'none'"]
    for ref in _references((await client.get("/api/schema")).text):
        answer = await client.get(ref)
        assert answer.status_code == 200, ref
    bundle = await client.get(REDOC_JS)
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert hashlib.sha256(bundle.content).hexdigest() == REDOC_SHA256
    # The other viewers, which could only load from CDNs, are not served.
    for path in ("/api/schema/swagger", "/api/schema/elements", "/api/schema/rapidoc"):
        assert (await client.get(path)).status_code == 404, path


def test_the_reference_renders_with_no_other_origin_reachable(
    live_server: str, browser_page: Page
) -> None:
    """As on a machine without internet: every request off the service is refused."""
    page = browser_page
    elsewhere: list[str] = []

    def only_the_service(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == urlsplit(live_server).netloc:
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    page.route("**/*", only_the_service)
    violations = csp_violations(page)
    page.goto(live_server + "/api/schema")
    page.get_by_role("heading", name="Innanförskapet API").first.wait_for(timeout=20_000)
    # An operation of the schema is rendered, with its Swedish summary and its path.
    menu = page.locator("[role=navigation], nav, .menu-content").first
    assert "Evenemang" in menu.inner_text()
    assert "/api/v1/issues" in page.locator("body").inner_text()
    assert elsewhere == []
    # The one thing Redoc asks of another origin is the "built with Redocly" logo; the
    # policy blocks it before any request leaves, and Redoc then leaves the logo out.
    assert [v for v in violations if REDOCLY_LOGO not in v] == []
    assert page.locator(f"img[src='{REDOCLY_LOGO}']").count() == 0
