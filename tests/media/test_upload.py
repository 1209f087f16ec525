"""Image uploads through the API and the editor page: sniffed type, size limits, dedup."""

from __future__ import annotations

import base64

from sqlalchemy.ext.asyncio import AsyncSession

from service.settings import Settings
from tests.editor.helpers import api_auth, login
from tests.pages import Client, csrf

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_media_upload(client: Client, session: AsyncSession, settings: Settings) -> None:
    auth = await api_auth(session)
    r = await client.post(
        "/api/v1/media", files={"file": ("bild.txt", PNG, "text/plain")}, headers=auth
    )
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.endswith(".png") and r.json()["width"] == 1
    again = await client.post(
        "/api/v1/media", files={"file": ("x.png", PNG, "image/png")}, headers=auth
    )
    assert again.json()["id"] == r.json()["id"]
    served = await client.get(url)
    assert served.status_code == 200 and served.content == PNG
    fake = await client.post(
        "/api/v1/media",
        files={"file": ("bild.png", b"<svg onload=alert(1)>", "image/png")},
        headers=auth,
    )
    assert fake.status_code == 422 and "inte en bild" in fake.json()["error"]
    big = PNG + b"\0" * settings.max_upload_bytes
    r = await client.post(
        "/api/v1/media", files={"file": ("b.png", big, "image/png")}, headers=auth
    )
    assert r.status_code == 422 and "för stor" in r.json()["error"]
    huge = PNG + b"\0" * (settings.max_upload_bytes * 2)
    r = await client.post(
        "/api/v1/media", files={"file": ("b.png", huge, "image/png")}, headers=auth
    )
    assert r.status_code == 413

    await login(client)
    page = await client.get("/redaktion/bilder")
    token = csrf(page.text)
    bad = await client.post(
        "/redaktion/bilder",
        data={"_csrf_token": token},
        files={"file": ("a.png", b"GIF-nej", "image/png")},
    )
    assert bad.status_code == 422 and "inte en bild" in bad.text
    ok = await client.post(
        "/redaktion/bilder",
        data={"_csrf_token": token},
        files={"file": ("a.png", PNG, "image/png")},
    )
    assert ok.status_code == 200 and "Bilden är uppladdad" in ok.text
