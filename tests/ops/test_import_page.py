"""The import page ``/redaktion/import`` through real HTTP on both backends: login, CSRF,
upload of an Excel file, the report, the reject file, and who may not use it."""

from __future__ import annotations

import csv
import io
import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.editor.service import create_editor
from subscribers import service as subs
from subscribers.models import ConsentEvent, Subscriber
from tests.ops.test_import import excel_bytes
from tests.pages import csrf

PASSWORD = "ett-långt-lösenord-för-test"


async def _login(
    client: AsyncTestClient[Litestar], session: AsyncSession, email: str, role: str
) -> None:
    await create_editor(session, email, PASSWORD, role=role)
    await session.commit()
    form = await client.get("/redaktion/logga-in")
    done = await client.post(
        "/redaktion/logga-in",
        data={"email": email, "password": PASSWORD, "_csrf_token": csrf(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


async def _csrf(client: AsyncTestClient[Litestar]) -> str:
    page = await client.get("/redaktion/import")
    assert page.status_code == 200, page.text
    assert "Importera prenumeranter" in page.text
    return csrf(page.text)


async def _count(session: AsyncSession) -> int:
    session.expire_all()
    return int((await session.execute(select(func.count()).select_from(Subscriber))).scalar_one())


async def test_admin_imports_an_excel_file(
    client: AsyncTestClient[Litestar], session: AsyncSession
) -> None:
    await _login(client, session, "admin@example.se", "admin")
    token = await _csrf(client)
    fields = {"list": "nyhetsbrev", "basis": "consent", "source": "Konferens 2019"}

    dry = await client.post(
        "/redaktion/import",
        data={**fields, "dry_run": "1", "_csrf_token": token},
        files={"file": ("medlemmar.csv", excel_bytes(), "text/csv")},
    )
    assert dry.status_code == 200, dry.text
    assert "Provkörning – ingenting har sparats" in dry.text
    assert await _count(session) == 0

    done = await client.post(
        "/redaktion/import",
        data={**fields, "_csrf_token": token},
        files={"file": ("medlemmar.csv", excel_bytes(), "text/csv")},
    )
    assert done.status_code == 200, done.text
    text = done.text
    assert "Importen är klar" in text
    assert "<dt>Lästa rader</dt><dd>11</dd>" in text
    assert "<dt>Importerade</dt><dd>5</dd>" in text  # no one was on the list before
    assert "<dt>Ogiltiga</dt><dd>5</dd>" in text
    assert "<dt>Dubbletter</dt><dd>1</dd>" in text
    assert "<dt>Teckenkodning</dt><dd>cp1252</dd>" in text
    link = re.search(r'href="(/redaktion/import/avvisade/[^"]+)"', text)
    assert link is not None
    rejects = await client.get(link.group(1))
    assert rejects.status_code == 200
    assert rejects.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(rejects.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "rad" and rows[0][-1] == "orsak"
    assert len(rows) == 1 + 6 and all(r[-1] for r in rows[1:])

    asa = await subs.find_by_address(session, "asa.oberg@example.se")
    assert asa is not None and asa.name == "Åsa Öberg"
    event = (
        await session.execute(select(ConsentEvent).where(ConsentEvent.subscriber_id == asa.id))
    ).scalar_one()
    assert (event.source, event.lawful_basis) == ("import:Konferens 2019", "consent")
    assert event.detail["actor"].startswith("editor:")

    missing = await client.get("/redaktion/import/avvisade/" + "x" * 32)
    assert missing.status_code == 404
    traversal = await client.get("/redaktion/import/avvisade/..%2F..%2Fsecret_key")
    assert traversal.status_code == 404


async def test_bad_form_input_re_shows_the_form(
    client: AsyncTestClient[Litestar], session: AsyncSession
) -> None:
    await _login(client, session, "admin@example.se", "admin")
    token = await _csrf(client)
    no_file = await client.post(
        "/redaktion/import",
        data={"list": "nyhetsbrev", "basis": "consent", "source": "x", "_csrf_token": token},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert no_file.status_code == 422
    assert "Välj en CSV-fil att importera." in no_file.text
    cases = [
        ({"list": "finns-inte", "basis": "consent", "source": "x"}, "Det finns ingen lista"),
        ({"list": "nyhetsbrev", "basis": "påhittad", "source": "x"}, "Rättslig grund måste"),
        ({"list": "nyhetsbrev", "basis": "consent", "source": ""}, "Ange varifrån"),
    ]
    for fields, message in cases:
        response = await client.post(
            "/redaktion/import",
            data={**fields, "_csrf_token": token},
            files={"file": ("a.csv", b"email\nny@example.se\n", "text/csv")},
        )
        assert response.status_code == 422, fields
        assert message in response.text
    headless = await client.post(
        "/redaktion/import",
        data={"list": "nyhetsbrev", "basis": "consent", "source": "x", "_csrf_token": token},
        files={"file": ("a.csv", b"namn;telefon\nAnna;1\n", "text/csv")},
    )
    assert headless.status_code == 422
    assert "Hittar ingen kolumn med e-postadresser" in headless.text
    assert await _count(session) == 0


async def test_without_csrf_token_nothing_is_imported(
    client: AsyncTestClient[Litestar], session: AsyncSession
) -> None:
    await _login(client, session, "admin@example.se", "admin")
    # (A urlencoded body: Litestar's CSRF middleware leaves a rejected multipart upload's
    # temporary file for the garbage collector, which the warnings-as-errors run reports.)
    response = await client.post(
        "/redaktion/import",
        data={"list": "nyhetsbrev", "basis": "consent", "source": "x", "file": "email"},
    )
    assert response.status_code == 403
    assert await _count(session) == 0


async def test_editors_who_are_not_admins_get_403(
    client: AsyncTestClient[Litestar], session: AsyncSession
) -> None:
    await _login(client, session, "redaktor@example.se", "editor")
    page = await client.get("/redaktion/import")
    assert page.status_code == 403
    assert "administratör" in page.text


async def test_import_page_is_closed_without_login(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/redaktion/import", "/redaktion/import/avvisade/" + "a" * 32):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/redaktion/logga-in?next=")
    posted = await client.post(
        "/redaktion/import",
        data={"list": "nyhetsbrev", "basis": "consent", "source": "x"},
        follow_redirects=False,
    )
    assert posted.status_code in (303, 403)
