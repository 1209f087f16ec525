"""Helpers for editor tests: create an editor/token, log in through the real form."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp
from sqlalchemy.ext.asyncio import AsyncSession
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service.editor import service
from tests.pages import Client, csrf

ProxiedClient = AsyncTestClient[Any]
PASSWORD = "rätt-lösenord-123"


def form_version(page: str) -> str:
    """The issue version an editor page's forms carry (optimistic locking)."""
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found, "no version field in page"
    return found.group(1)


async def page_version(client: Client, url: str) -> str:
    """The version of the issue editor page at ``url``, as a browser would send it."""
    return form_version((await client.get(url)).text)


async def make_editor(
    session: AsyncSession, email: str = "red@example.org", role: str = "editor"
) -> int:
    editor = await service.create_editor(session, email, PASSWORD, role=role, name="Redaktör Ett")
    await session.commit()
    return editor.id


async def make_token(session: AsyncSession, email: str = "red@example.org") -> str:
    editor = await service.editor_by_email(session, email)
    _, plain = await service.create_token(session, editor, "test")
    await session.commit()
    return plain


async def api_auth(session: AsyncSession, email: str = "red@example.org") -> dict[str, str]:
    """Make the editor ``email`` and an API token of theirs: the request headers."""
    await make_editor(session, email)
    return {"Authorization": f"Bearer {await make_token(session, email)}"}


async def login(client: Client, email: str = "red@example.org", password: str = PASSWORD) -> None:
    page = await client.get("/redaktion/logga-in")
    response = await client.post(
        "/redaktion/logga-in",
        data={
            "_csrf_token": csrf(page.text),
            "email": email,
            "password": password,
            "next": "/redaktion",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def behind_proxy(app: Litestar) -> ASGIApp:
    """``app`` behind uvicorn's X-Forwarded-For handling, as ``innanforskapet serve`` runs it.

    The test client plays the trusted reverse proxy, so a request's
    ``X-Forwarded-For`` header is the client address the app sees (``client_ip``).
    """
    wrapped: ASGIApp = ProxyHeadersMiddleware(app, trusted_hosts="testclient")  # type: ignore[arg-type]
    return wrapped


async def try_login(client: ProxiedClient, email: str, password: str, ip: str, token: str) -> Any:
    """One login attempt from client address ``ip``; the response, redirects not followed."""
    return await client.post(
        "/redaktion/logga-in",
        data={"_csrf_token": token, "email": email, "password": password, "next": "/redaktion"},
        headers={"X-Forwarded-For": ip},
        follow_redirects=False,
    )
