"""The import page ``/redaktion/import`` through real HTTP: closed to anyone not signed in."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_import_page_is_closed_without_login(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/redaktion/import", "/redaktion/import/avvisade/" + "a" * 32):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code in (302, 303, 401, 403), path
        assert "Importera prenumeranter" not in response.text
    posted = await client.post(
        "/redaktion/import",
        data={"list": "nyhetsbrev", "basis": "consent", "source": "x"},
        follow_redirects=False,
    )
    assert posted.status_code in (302, 303, 401, 403)
