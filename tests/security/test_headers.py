"""Security headers the app itself sends: CSP, framing, nosniff, referrer policy, and
no-store for the editor and its API. The embeddable signup form may be framed by the
origins in INNAN_EMBED_ORIGINS; everything else by nobody."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.settings import SettingsError, load_settings
from tests.conftest import make_settings
from tests.editor.helpers import login, make_editor, make_token
from tests.pages import Client

EMBEDDERS = "https://www.forbund.example, https://intranat.kommun.example:8443"


def csp(response: object) -> dict[str, list[str]]:
    """The Content-Security-Policy of ``response`` as directive -> sources."""
    header = response.headers.get("content-security-policy")  # type: ignore[attr-defined]
    assert header, "no Content-Security-Policy"
    policy: dict[str, list[str]] = {}
    for directive in header.split(";"):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


def assert_strict_page(response: object) -> None:
    policy = csp(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


async def test_public_pages_and_feeds(client: Client) -> None:
    for path in ("/", "/arkiv", "/kalender", "/prenumerera", "/finns-inte"):
        response = await client.get(path)
        assert_strict_page(response)
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
    # The public caching of the archive, feeds and calendar is untouched.
    for path, cache in (
        ("/arkiv", "public, max-age=60"),
        ("/arkiv/rss.xml", "public, max-age=300"),
        ("/kalender.ics", "public, max-age=300"),
    ):
        first = await client.get(path)
        assert first.headers["cache-control"] == cache, path
        assert first.headers["x-content-type-options"] == "nosniff", path
        again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, path
    static = await client.get("/static/site.css")
    assert static.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in static.headers["cache-control"]


async def test_personal_link_pages_keep_no_referrer(client: Client) -> None:
    for path in ("/bekrafta/okand-lank", "/installningar/okand-lank", "/avregistrera/okand"):
        response = await client.get(path)
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert response.headers["cache-control"] == "no-store", path
        assert_strict_page(response)


async def test_editor_pages_are_strict_and_never_stored(
    client: Client, session: AsyncSession
) -> None:
    login_page = await client.get("/redaktion/logga-in")
    assert_strict_page(login_page)
    assert login_page.headers["cache-control"] == "no-store"
    await make_editor(session)
    await login(client)
    for path in ("/redaktion", "/redaktion/kalender", "/redaktion/nycklar"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert_strict_page(response)
        assert response.headers["cache-control"] == "no-store", path
    # The mail preview is framed by the editor's own page only, and may style inline
    # (mail HTML is nothing but inline styles).
    created = await client.post(
        "/api/v1/issues",
        headers={"Authorization": f"Bearer {await make_token(session)}"},
        json={"title": "Förhandsvisning", "issue_date": "2026-12-01"},
    )
    preview = await client.get(f"/redaktion/utskick/{created.json()['id']}/forhandsvisning/html")
    policy = csp(preview)
    assert policy["frame-ancestors"] == ["'self'"]
    assert "script-src" not in policy and policy["default-src"] == ["'none'"]
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert preview.headers["cache-control"] == "no-store"


async def test_api_answers_are_never_stored(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    auth = {"Authorization": f"Bearer {await make_token(session)}"}
    for response in (
        await client.get("/api/v1/issues", headers=auth),
        await client.get("/api/v1/issues"),  # 401
        await client.get("/api/v1/issues/999", headers=auth),  # 404
    ):
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        policy = csp(response)
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]


@pytest.fixture
async def embedding_client(tmp_path: Path, db_url: str) -> AsyncIterator[Client]:
    settings = make_settings(tmp_path, db_url, INNAN_EMBED_ORIGINS=EMBEDDERS)
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as c:
        yield c


async def test_signup_form_can_be_embedded_by_the_configured_origins(
    embedding_client: Client,
) -> None:
    client = embedding_client
    allowed = ["'self'", "https://www.forbund.example", "https://intranat.kommun.example:8443"]
    shown = await client.get("/prenumerera/inbaddning")
    posted = await client.post("/prenumerera/inbaddning", data={"email": "inte-en-adress"})
    assert (shown.status_code, posted.status_code) == (200, 422)
    for response in (shown, posted):
        policy = csp(response)
        assert policy["frame-ancestors"] == allowed
        assert policy["script-src"] == ["'self'"]
        assert "x-frame-options" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
    # Only the embeddable form: the normal signup page and the rest are not frameable.
    for path in ("/prenumerera", "/integritet", "/"):
        assert_strict_page(await client.get(path))


async def test_without_embed_origins_the_form_is_frameable_by_the_service_only(
    client: Client,
) -> None:
    response = await client.get("/prenumerera/inbaddning")
    assert csp(response)["frame-ancestors"] == ["'self'"]
    assert "x-frame-options" not in response.headers


def test_embed_origins_setting(tmp_path: Path) -> None:
    base = {"INNAN_VAR_DIR": str(tmp_path)}
    assert load_settings(base).embed_origins == ()
    settings = load_settings(
        base | {"INNAN_EMBED_ORIGINS": " https://www.forbund.example/ https://b.example:8443,"}
    )
    assert settings.embed_origins == ("https://www.forbund.example", "https://b.example:8443")
    for bad in (
        "http://www.forbund.example",
        "https://www.forbund.example/sida",
        "https://*.forbund.example",
        "*",
        "'self'",
        "https://",
        "https://x.example?a=1",
        "www.forbund.example",
        "https://a.example;script-src",
    ):
        with pytest.raises(SettingsError) as info:
            load_settings(base | {"INNAN_EMBED_ORIGINS": bad})
        assert "INNAN_EMBED_ORIGINS" in str(info.value), bad
    # For trying the embedding out on one's own machine, plain http to loopback is fine.
    local = load_settings(base | {"INNAN_EMBED_ORIGINS": "http://localhost:8080"})
    assert local.embed_origins == ("http://localhost:8080",)
